"""An item's status leaves "Unlabeled" by itself (issue 15): the first edit of its labels —
in the window, from `vellum import coco`, or painting voxels — makes it "In progress", so the
status filter finds it. As CVAT's job state, undoing that edit does not move it back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.core.commands import ModifyLabelMap, Put
from app.core.document import Document
from app.core.geometry import VolumeGeometry
from app.core.labelmap import LabelMapInfo, Mode, Segment
from app.core.media import MediaItem, MediaKind, MediaStatus
from tools_scene import CTRL, window  # noqa: F401  (fixture)

K = Qt.Key


def statuses(doc: Document) -> dict[str, MediaStatus]:
    return {m.name: m.status for m in doc.media()}


def filtered(s, status: str) -> list[str]:
    """Names the media list shows with its status filter set to ``status``."""
    from app.widgets.media_list import IdRole

    box = s.win.media.status_box
    box.setCurrentIndex(box.findData(status))
    proxy = s.win.media.proxy
    names = [s.doc.media_item(proxy.index(r, 0).data(IdRole)).name
             for r in range(proxy.rowCount())]
    box.setCurrentIndex(0)
    return names


def test_drawing_the_first_shape_makes_the_item_in_progress(window):
    pytest.importorskip("pytestqt")
    from app.widgets.media_list import StatusRole

    s = window
    assert set(statuses(s.doc).values()) == {MediaStatus.UNLABELED}
    assert filtered(s, "in_progress") == []
    s.key(K.Key_R)
    s.key(K.Key_1)
    s.canvas_drag([(10, 10), (50, 40)])
    assert statuses(s.doc)["img0.png"] is MediaStatus.IN_PROGRESS
    assert statuses(s.doc)["img1.png"] is MediaStatus.UNLABELED
    model = s.win.media.model
    row = next(r for r in range(model.rowCount())
               if model.index(r, 0).data(StatusRole) == MediaStatus.IN_PROGRESS.value)
    assert "In progress" in model.index(row, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert filtered(s, "in_progress") == ["img0.png"]
    assert "img0.png" not in filtered(s, "unlabeled")
    s.key(K.Key_Z, CTRL)  # the shape goes; the item stays started (as in CVAT)
    assert s.anns() == [] and statuses(s.doc)["img0.png"] is MediaStatus.IN_PROGRESS
    with Document.open(s.path) as again:
        assert statuses(again)["img0.png"] is MediaStatus.IN_PROGRESS


def test_a_status_the_user_set_is_left_alone(window):
    s = window
    s.key(K.Key_3, Qt.KeyboardModifier.AltModifier)  # mark done (Alt+3)
    done = statuses(s.doc)["img0.png"]
    assert done is not MediaStatus.UNLABELED
    s.key(K.Key_R)
    s.key(K.Key_1)
    s.canvas_drag([(10, 10), (50, 40)])
    assert statuses(s.doc)["img0.png"] is done


def test_vellum_import_coco_marks_the_labelled_items_in_progress(tmp_path):
    from app.cli import main as vellum
    from app.io.images import write_png

    images = tmp_path / "images"
    rng = np.random.default_rng(3)
    for name in ("a.png", "b.png"):
        write_png(images / name, rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    coco = {"images": [{"id": 1, "file_name": "a.png", "width": 60, "height": 40},
                       {"id": 2, "file_name": "b.png", "width": 60, "height": 40}],
            "categories": [{"id": 1, "name": "thing"}],
            "annotations": [{"id": n, "image_id": 1, "category_id": 1,
                             "bbox": [n, 1, 5, 5], "area": 25, "iscrowd": 0}
                            for n in range(1, 5)]}
    src = tmp_path / "c.json"
    src.write_text(json.dumps(coco))
    assert vellum(["new", str(tmp_path / "p")]) == 0
    assert vellum(["import", "coco", str(tmp_path / "p"), str(src),
                   "--images", str(images)]) == 0
    with Document.open(tmp_path / "p") as doc:
        assert statuses(doc) == {"a.png": MediaStatus.IN_PROGRESS,
                                 "b.png": MediaStatus.UNLABELED}


def test_painting_voxels_marks_a_volume_in_progress_but_adding_a_segment_does_not(tmp_path):
    shape = (8, 16, 16)
    with Document.create(tmp_path / "vol") as doc:
        vol = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="f", size_bytes=1,
                        width=0, height=0, volume=VolumeGeometry(shape, (1.0, 1.0, 2.0)))
        info = LabelMapInfo(vol.id, *shape, segments=(Segment(1, "lesion"),))
        doc.execute(Put((vol, info)))
        assert doc.media_item(vol.id).status is MediaStatus.UNLABELED
        seen: list[str] = []
        doc.subscribe(lambda changes: seen.extend(c.kind for c in changes))
        doc.execute(ModifyLabelMap(info.id, (2, 3, 4), np.ones((1, 4, 4), bool), Mode.ADD, 1))
        assert doc.media_item(vol.id).status is MediaStatus.IN_PROGRESS
        assert "media" in seen  # the media list hears of it
        doc.undo()
        assert doc.media_item(vol.id).status is MediaStatus.IN_PROGRESS
