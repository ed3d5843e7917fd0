"""Volume propagation: stops where the object ends, not where the model's confidence does.

A fast story on a synthetic volume with a stand-in segmenter, then the acceptance case on the
Philips phantom (real LiteMedSAM, slow) beside the plain loop measured the same way.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.places import Place
from app.inference.masks import mask_box
from app.inference.propagation import propagate_volume

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


class ThresholdSam:
    """Stands in for a SAM session: the bright connected region under the box's centre,
    confined to the box; 'predicted IoU' 0.9. Like SAM, it never says 'nothing here' by itself."""

    def set_image(self, image, place="", content=None):
        self.image = image

    def predict(self, box=None, **_):
        x, y, w, h = box
        bright = (self.image > 127).astype(np.uint8)
        inside = np.zeros_like(bright)
        y0, x0 = max(0, int(y)), max(0, int(x))
        inside[y0:int(y + h), x0:int(x + w)] = 1
        n, labels = cv2.connectedComponents(bright & inside)
        cy, cx = int(y + h / 2), int(x + w / 2)
        sizes = np.bincount(labels.ravel(), minlength=n)
        sizes[0] = 0
        pick = labels[cy, cx] if labels[cy, cx] else int(np.argmax(sizes)) if n > 1 else 0
        mask = labels == pick if pick else np.zeros(bright.shape, bool)

        class Answer:
            def best(self_inner):
                from app.inference.masks import SamMask

                return SamMask(mask, 0.9, "threshold")
        return Answer()


def _cylinder_volume() -> np.ndarray:
    """60 slices of 96 x 96: background 0, a disc of 100 on slices 20-44; from slice 14 to 19
    a slab of 100 touches the disc (the cylinder ends in a block of the same density), and
    the slice above the top is a small partial-volume cap."""
    vol = np.zeros((60, 96, 96), np.float32)
    yy, xx = np.mgrid[:96, :96]
    disc = (yy - 48) ** 2 + (xx - 48) ** 2 <= 12 ** 2
    for k in range(20, 45):
        vol[k][disc] = 100
    vol[45][(yy - 48) ** 2 + (xx - 48) ** 2 <= 4 ** 2] = 100
    for k in range(14, 20):
        vol[k][disc] = 100
        vol[k][10:46, 6:90] = 100
    return vol


def test_propagation_stops_at_the_ends_of_the_object():
    vol = _cylinder_volume()
    result = propagate_volume(vol, ThresholdSam(), 30, (34, 34, 28, 28), window=(100, 50))
    assert (result.first, result.last) == (20, 44), result.stopped
    assert "surroundings" in result.stopped["down"] and "area" in result.stopped["up"]
    assert all(s.mask.sum() > 0 for s in result.slices)
    labels = result.labelmap(vol.shape)
    assert labels.shape == vol.shape and labels[30, 48, 48] == 1 and labels[50].sum() == 0


def test_propagation_along_another_axis_and_its_limits():
    vol = np.transpose(_cylinder_volume(), (1, 0, 2))  # the cylinder now runs along j
    result = propagate_volume(vol, ThresholdSam(), 30, (34, 34, 28, 28), window=(100, 50),
                              axis=1, max_slices=5)
    assert len(result.slices) == 5 and "limit" in result.stopped["up"] + result.stopped["down"]
    with pytest.raises(ValueError):
        propagate_volume(vol, ThresholdSam(), 999, (0, 0, 5, 5), window=(100, 50))


# -- the acceptance case --------------------------------------------------------------------


def _load_s2020() -> np.ndarray:
    """HU volume [k, j, i], k ascending ImagePositionPatient z."""
    import pydicom

    folder = SHARED / "data" / "dicom" / "philips_phantom_study" / "S2020"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent on this machine")
    slices = []
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path, force=True)
        if "ImagePositionPatient" in ds and "PixelData" in ds:
            hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            slices.append((float(ds.ImagePositionPatient[2]), hu.astype(np.float32)))
    slices.sort(key=lambda s: s[0])
    return np.stack([s[1] for s in slices])


def _insert(hu_slice: np.ndarray, centre=(250, 240)) -> np.ndarray:
    band = ((hu_slice >= 60) & (hu_slice <= 200)).astype(np.uint8)
    _, labels = cv2.connectedComponents(band, connectivity=8)
    value = labels[centre[1], centre[0]]
    return labels == value if value else np.zeros(band.shape, bool)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * np.logical_and(a, b).sum() / total) if total else 1.0


@pytest.mark.slow
def test_phantom_insert_is_covered_end_to_end_and_beats_the_plain_loop(tmp_path_factory):
    models = SHARED / "models" / "litemedsam"
    if not models.is_dir():
        pytest.skip(f"{models} is absent on this machine")
    from app.inference.pack_import import import_models
    from app.inference.sam import SamSession

    vol = _load_s2020()
    assert vol.shape == (140, 512, 512)
    root = tmp_path_factory.mktemp("prop") / "models"
    assert not import_models(models, root).errors
    first_true, last_true = 59, 86
    with SamSession("litemedsam", models_root=root) as sam:
        result = propagate_volume(vol, sam, 70, (229, 219, 42, 42), window=(80, 40))
        # the plain loop, on the same (now cached) embeddings
        from app.inference.masks import window_to_uint8

        plain = {}
        for step in (1, -1):
            box, k = (229, 219, 42, 42), 70
            while 0 <= k < vol.shape[0]:
                sam.set_image(window_to_uint8(vol[k], 80, 40), Place("ct", axis="k", index=k))
                answer = sam.predict(box=box).best()
                if answer.score < 0.5 or answer.empty:
                    break
                plain[k] = answer.mask
                x, y, w, h = mask_box(answer.mask)
                box, k = (x - 3, y - 3, w + 6, h + 6), k + step
    dice = [_dice(s.mask, _insert(vol[s.index])) for s in result.slices
            if first_true <= s.index <= last_true]
    ours = abs(result.first - first_true) + abs(result.last - last_true)
    theirs = abs(min(plain) - first_true) + abs(max(plain) - last_true)
    print(f"ours {result.first}-{result.last} (median Dice {np.median(dice):.3f}, review "
          f"{result.review}); plain loop {min(plain)}-{max(plain)}; stopped {result.stopped}")
    assert abs(result.first - first_true) <= 3 and abs(result.last - last_true) <= 3
    assert result.first <= first_true + 1 and result.last >= last_true - 1, "covers the insert"
    assert np.median(dice) >= 0.9
    assert ours < theirs, "closer to the insert's ends than the plain loop"
