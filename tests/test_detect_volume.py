"""Detectors on volume slices: ``vellum detect PROJECT`` and the worker API read a volume
slice by slice along array axis k (or another with ``--axis``), each slice windowed to 8-bit,
and store each box at that slice's Place in its pixel coordinates (``app/core/places.py``:
axis k -> picture ``[j, i]``, x = i, y = j). The detector is a tiny graph that boxes the bright
pixels (tests/detector_graphs.py ``bright_box_model``); the volume is a NIfTI with bright
squares planted at known voxels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
nib = pytest.importorskip("nibabel")

from detector_graphs import bright_box_model  # noqa: E402

from app.cli import main  # noqa: E402
from app.core.document import Document  # noqa: E402
from app.core.places import Place  # noqa: E402
from app.inference.pack_import import import_models  # noqa: E402

# NIfTI voxel order is (i, j, k); Vellum's array is [k, j, i]. 64 columns x 48 rows: each
# axial slice letterboxes into 320 x 320 at exactly 5x (40 rows of padding above and below).
SHAPE_IJK = (64, 48, 10)
SQUARE = {"k": 6, "i": (30, 45), "j": (10, 20)}  # on slice k=6: x 30-45, y 10-20
SMALL = {"k": 3, "i": (5, 9), "j": (40, 47)}  # on slice k=3 (skipped by --every 2)


def _volume(path: Path) -> Path:
    data = np.zeros(SHAPE_IJK, np.int16)
    for sq in (SQUARE, SMALL):
        data[sq["i"][0]:sq["i"][1], sq["j"][0]:sq["j"][1], sq["k"]] = 1000
    affine = np.diag([0.8, 0.8, 2.5, 1.0])
    affine[:3, 3] = (-20.0, 15.0, 40.0)
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("detvol")
    folder = base / "detector"
    folder.mkdir()
    (folder / "bright.onnx").write_bytes(bright_box_model().SerializeToString())
    (folder / "classes.txt").write_text("lesion\n")
    models = base / "models"
    report = import_models(folder, models)
    assert report.errors == [], report.errors
    (model_id,) = report.installed
    proj = base / "project"
    (proj / "media").mkdir(parents=True)
    nifti = _volume(proj / "media" / "ct.nii.gz")
    from app.io.ingest import add_media

    doc = Document.create(proj)
    add_media(doc, [nifti])
    doc.close()
    return models, model_id, proj, nifti


def test_the_planted_squares_are_found_at_their_slice_places(setup, tmp_path, monkeypatch,
                                                              capsys):
    import shutil

    models, model_id, proj, _ = setup
    proj = Path(shutil.copytree(proj, tmp_path / "p"))
    monkeypatch.setenv("VELLUM_MODELS_DIR", str(models))
    code = main(["detect", str(proj), "--model", model_id, "--every", "2", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    report = json.loads(out.out)
    (entry,) = report["media"]
    assert entry["kind"] == "volume" and entry["pictures"] == 5  # slices 0, 2, 4, 6, 8
    assert entry["detections"] == 1 and report["classes_created"] == ["lesion"]
    with Document.open(proj) as doc:
        (item,) = doc.media()
        anns = doc.annotations(item.id, all_frames=True)
        (ann,) = anns
        assert ann.place == Place(item.id, axis="k", index=SQUARE["k"])
        assert ann.source == model_id and ann.score == pytest.approx(0.9)
        x0, x1 = SQUARE["i"]
        y0, y1 = SQUARE["j"]
        np.testing.assert_allclose(ann.shape.bbox(), (x0, y0, x1 - x0, y1 - y0), atol=1e-6)
        assert doc.schema.class_by_id(ann.class_id).name == "lesion"
    # every slice: the small square on k=3 too, and nothing else; a re-run adds nothing
    for _ in range(2):
        code = main(["detect", str(proj), "--model", model_id])
        assert code == 0, capsys.readouterr().err
    with Document.open(proj) as doc:
        (item,) = doc.media()
        anns = [a for a in doc.annotations(item.id, all_frames=True)]
        found = sorted((a.place.axis, a.place.index, tuple(round(v, 6) for v in a.shape.bbox()))
                       for a in anns)
        x0, x1 = SMALL["i"]
        y0, y1 = SMALL["j"]
        assert ("k", SMALL["k"], (x0, y0, x1 - x0, y1 - y0)) in found
        assert len([f for f in found if f[1] == SQUARE["k"]]) == 2  # --every 2 run + full run
        assert len(found) == 3


def test_worker_api_on_a_volume_file_and_another_axis(setup):
    from app.inference.detection import detect_media

    models, model_id, _, nifti = setup
    found = detect_media(model_id, str(nifti), "volume", None, models_root=models)
    assert sorted(found) == list(range(SHAPE_IJK[2]))
    assert [k for k, d in found.items() if d] == [SMALL["k"], SQUARE["k"]]
    (det,) = found[SQUARE["k"]]
    assert det.label == "lesion"
    assert det.box == pytest.approx((30.0, 10.0, 15.0, 10.0))
    # slices along j: pictures [k, i] (x = i, y = k); the square spans j 10-19, one k row
    along_j = detect_media(model_id, str(nifti), "volume", [9, 10, 15, 19, 20],
                           models_root=models, axis="j", window=(1000.0, 500.0))
    assert [j for j, d in along_j.items() if d] == [10, 15, 19]
    (det,) = along_j[15]
    assert det.box == pytest.approx((30.0, 6.0, 15.0, 1.0))


def test_bad_slices_and_window_are_one_sentence(setup):
    from app.core.errors import BadInputError
    from app.inference.detection import detect_media

    models, model_id, _, nifti = setup
    with pytest.raises(BadInputError, match="has slices 0 to 9; slice 12 is outside"):
        detect_media(model_id, str(nifti), "volume", [12], models_root=models)
    with pytest.raises(BadInputError, match="positive width"):
        detect_media(model_id, str(nifti), "volume", None, models_root=models,
                     window=(0.0, 10.0))
