"""The Segment Anything engine on tiny models of both layouts: coordinates, multimask,
refinement, embedding cache (memory and disk), prefetch, masks to RLE and polygons, and the
``vellum segment`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.errors import ModelError
from app.core.places import Place
from app.inference.embeddings import EmbeddingCache
from app.inference.masks import mask_to_polygons, mask_to_rle, window_to_uint8
from app.inference.pack_import import import_models
from app.inference.sam import PrefetchItem, SamSession

from test_inference_tiny_models import SCORES, box_mask, iou, medsam_pack, sam_vit_pack

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("sam")
    root = base / "models"
    for build in (sam_vit_pack, medsam_pack):
        report = import_models(build(base / build.__name__), root)
        assert not report.errors
    return root


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("model_id", ["tiny-sam", "tiny-medsam"])
@pytest.mark.parametrize("size", [(301, 517), (640, 480), (97, 1200)])
def test_a_box_prompt_comes_back_as_that_box_on_any_image_size(models, model_id, size):
    h, w = size
    box = (w * 0.21, h * 0.3, w * 0.43, h * 0.37)
    with SamSession(model_id, models_root=models) as sam:
        sam.set_image(_image(h, w))
        answer = sam.predict(box=box).best()
    assert answer.mask.shape == (h, w) and answer.mask.dtype == bool
    assert iou(answer.mask, box_mask(h, w, box)) > 0.93
    assert answer.source == model_id and answer.score == pytest.approx(SCORES[0])


def test_multimask_points_and_refinement_on_the_official_layout(models):
    with SamSession("tiny-sam", models_root=models) as sam:
        sam.set_image(_image(200, 300))
        many = sam.predict(box=(50, 40, 100, 80), multimask=True)
        assert len(many.masks) == 3 and list(many.scores) == sorted(SCORES[1:], reverse=True)
        assert many.low_res.shape == (3, 256, 256)
        refined = sam.predict(box=(50, 40, 100, 80), mask_input=many.low_res[0])
        assert len(refined.masks) == 1
        with_points = sam.predict(box=(50, 40, 100, 80), points=[(60, 50), (70, 60)],
                                  labels=[1, 0])
        assert iou(with_points.masks[0], many.masks[0]) > 0.95
        only_points = sam.predict(points=[(60, 50)], labels=[1])  # padded with a -1 point
        assert only_points.masks.shape == (1, 200, 300)


def test_litemedsam_refuses_a_prompt_without_a_box(models):
    with SamSession("tiny-medsam", models_root=models) as sam:
        sam.set_image(_image(64, 64))
        with pytest.raises(ModelError, match="box"):
            sam.predict(points=[(10, 10)], labels=[1])
        assert len(sam.predict(box=(5, 5, 20, 20), multimask=True).masks) == 1


class CountingRuns:
    def __init__(self, session) -> None:
        self.inner, self.calls = session.session, 0
        session.session = self

    def run(self, *args, **kwargs):
        self.calls += 1
        return self.inner.run(*args, **kwargs)


def test_the_encoder_runs_once_per_image_and_place_and_the_disk_cache_survives(models, tmp_path):
    img = _image(120, 160)
    with SamSession("tiny-sam", models_root=models,
                    cache=EmbeddingCache(folder=tmp_path / "emb")) as sam:
        runs = CountingRuns(sam.encoder)
        sam.set_image(img)
        sam.set_image(img.copy())
        assert runs.calls == 1
        sam.set_image(img, place=Place("clip", frame=3))
        assert runs.calls == 2, "the place is part of the key"
    with SamSession("tiny-sam", models_root=models,
                    cache=EmbeddingCache(folder=tmp_path / "emb")) as fresh:
        runs = CountingRuns(fresh.encoder)
        fresh.set_image(img)
        assert runs.calls == 0, "the embedding came from disk"
        assert fresh.predict(box=(10, 10, 50, 50)).masks.shape == (1, 120, 160)


def test_prefetch_encodes_ahead_so_the_first_click_does_not_wait(models):
    images = [_image(100, 100, seed) for seed in range(4)]
    loaded = []

    def loader(i: int):
        def load():
            loaded.append(i)
            return images[i]
        return load

    with SamSession("tiny-medsam", models_root=models) as sam:
        future = sam.prefetch([PrefetchItem(loader(i), place=Place(f"img{i}")) for i in range(1, 4)])
        assert future.result(timeout=60) == 3 and loaded == [1, 2, 3]
        runs = CountingRuns(sam.encoder)
        for i in range(1, 4):
            assert sam.is_ready(images[i], place=Place(f"img{i}"))
            sam.set_image(images[i], place=Place(f"img{i}"))
        assert runs.calls == 0
        assert sam.prefetch([PrefetchItem(images[1], Place("img1"))]).result(timeout=60) == 0, "cached items are skipped"


def test_masks_become_rle_and_polygons_with_holes_in_continuous_coordinates():
    from pycocotools import mask as coco

    from app.core.raster import rasterize

    mask = np.zeros((60, 90), bool)
    mask[10:50, 10:70] = True
    mask[20:30, 20:40] = False  # a hole
    cv2.circle(ring := np.zeros((60, 90), np.uint8), (80, 50), 7, 1, -1)
    mask |= ring.astype(bool)
    assert mask_to_rle(mask).counts == coco.encode(np.asfortranarray(mask.astype(np.uint8)))[
        "counts"].decode()
    exact = mask_to_polygons(mask, tolerance=0)
    assert sum(len(p.holes) for p in exact) == 1
    back = np.zeros_like(mask)
    for p in exact:
        back |= rasterize(p, 60, 90)
    assert (back == mask).all(), "unsimplified polygons rasterise to exactly the mask"
    big = next(p for p in exact if p.holes)
    xs = [x for x, _ in big.exterior]
    assert min(xs) == 10.0 and max(xs) == 70.0, "edges lie on pixel edges"
    simple = mask_to_polygons(mask)
    assert sum(len(p.exterior) for p in simple) < sum(len(p.exterior) for p in exact) + 1


def test_window_to_uint8_is_the_reference_ct_mapping(shared_data):
    import pydicom

    ref = cv2.imread(str(shared_data.parent / "reference" / "sam" / "inputs" /
                         "ct_phantom_brain.png"), cv2.IMREAD_GRAYSCALE)
    uid = "1.3.46.670589.33.1.272601309984837964.32125363861510980821"
    folder = shared_data / "dicom" / "philips_phantom_study" / "S2020"
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        if getattr(ds, "SOPInstanceUID", None) == uid:
            ds = pydicom.dcmread(path)
            break
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert (window_to_uint8(hu, 80, 40) == ref).all()


def test_vellum_segment_writes_an_8bit_mask_of_the_image_size(models, tmp_path):
    image = tmp_path / "odd.png"
    cv2.imwrite(str(image), _image(233, 351))
    out = tmp_path / "mask.png"
    env = dict(os.environ, VELLUM_MODELS_DIR=str(models))
    done = subprocess.run([sys.executable, "-m", "app.cli", "segment", str(image), "--model",
                           "tiny-sam", "--box", "40.5", "30", "200", "150", "--point", "100",
                           "100", "--negative", "10", "10", "-o", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.shape == (233, 351) and written.dtype == np.uint8
    assert set(np.unique(written)) <= {0, 255}
    assert iou(written == 255, box_mask(233, 351, (40.5, 30, 200, 150))) > 0.93
    bad = subprocess.run([sys.executable, "-m", "app.cli", "segment", str(image), "--model",
                          "not-installed", "--box", "1", "1", "5", "5", "-o", str(out),
                          "--overwrite"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "not installed" in bad.stderr and "Traceback" not in bad.stderr


def test_volume_slices_are_windowed_then_encoded_once_per_place(models):
    volume = np.random.default_rng(2).normal(40, 30, (6, 48, 64)).astype(np.float32)
    with SamSession("tiny-medsam", models_root=models) as sam:
        runs = CountingRuns(sam.encoder)
        sam.set_slice(volume, 3, window=(80, 40))
        sam.set_slice(volume, 3, window=(80, 40))
        assert runs.calls == 1
        sam.set_slice(volume, 10, window=(80, 40), axis=2)  # a sagittal plane: 6 x 48
        assert runs.calls == 2
        assert sam.predict(box=(5, 1, 20, 3)).masks.shape == (1, 6, 48)
