"""Volume panes: slice rendering and brush strokes, ours beside a plain peer in the same run.

1. Slice render to screen for a 512 x 512 axial slice (and a 512 x 600 coronal one) of a
   512 x 512 x 600 CT: ours is a real volume pane (:class:`app.widgets.volume.pane.SlicePane`)
   stepping to the next slice - a new plane source (a view into the volume), window/level
   applied to its tile, the label map's plane read from its bricks and coloured, the crosshair
   and letters - drawn into a widget-sized image. The peer is the plainest numpy + QImage
   viewer: window/level in numpy, the label slice of a dense array coloured through a lookup
   table, both drawn scaled with QPainter. Goal: under 5 ms.
2. Window/level change on the same slice (ours keeps the pyramid, remakes the tile).
3. Brush stroke latency on a 512 x 512 x 600 label map, in each pane: every pointer move of a
   drag (stamp in mm + redraw of the pane), and the release (one ModifyLabelMap written to the
   project on disk, one undo step, then the redrawn overlay). The peer is napari-style dense
   painting: the label map as one 600 x 512 x 512 array in memory, each move stamps into it
   (keeping the old values for undo) and redraws the slice with its recoloured labels (the
   numpy + QImage render above); it has nothing to commit. Goal: under 16 ms.

Run: ``python -m benchmarks volume_view``.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QPoint, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QImage, QPainter  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.core.commands import ModifyLabelMap, Put, SetSchema  # noqa: E402
from app.core.document import Document  # noqa: E402
from app.core.geometry import VolumeGeometry  # noqa: E402
from app.core.labelmap import LabelMapInfo, Segment  # noqa: E402
from app.core.media import MediaItem, MediaKind  # noqa: E402
from app.core.places import Place  # noqa: E402
from app.core.schema import LabelClass, LabelSchema  # noqa: E402
from app.io.planes import CT_PRESETS, VolumeSliceSource, WindowLevel  # noqa: E402
from app.tools.brush import BrushTool  # noqa: E402
from app.tools.paint import LabelMapPaint  # noqa: E402
from app.tools.state import EditorState  # noqa: E402
from app.tools.surface import Surface  # noqa: E402
from app.tools.volume_brush import BrushSettings, VolumeBrush, footprint  # noqa: E402
from app.widgets.labelmap_layer import colour_table  # noqa: E402

SHAPE = (600, 512, 512)  # k, j, i
SPACING = (0.8, 0.8, 1.0)  # si, sj, sk (mm)
VIEW = (760, 760)  # pane canvas size (px)
SLICES = 25
MOVES = 40
RADIUS_MM = 5.0
PEER_RENDER = "numpy W/L + LUT + QImage"
PEER_BRUSH = "dense numpy label array (napari-style)"


def _app() -> QApplication:
    return QApplication.instance() or QApplication([])


def _ct() -> np.ndarray:
    """A body ellipse (40 HU) with a spine-like disc (700 HU) in air, 600 slices."""
    jj, ii = np.mgrid[0:SHAPE[1], 0:SHAPE[2]]
    body = ((ii - 256) / 220.0) ** 2 + ((jj - 256) / 170.0) ** 2 < 1
    bone = (ii - 256) ** 2 + (jj - 340) ** 2 < 30 ** 2
    plane = np.where(body, 40, -1000).astype(np.int16)
    plane[bone] = 700
    return np.repeat(plane[None], SHAPE[0], axis=0)


def _project(folder: Path, geo: VolumeGeometry) -> tuple[Document, MediaItem, LabelMapInfo]:
    doc = Document.create(folder)
    item = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="f", size_bytes=1, width=0,
                     height=0, volume=geo)
    doc.execute(Put((item,)))
    doc.execute(SetSchema(LabelSchema((LabelClass("organ", "#e6194b", id="organ"),))))
    info = LabelMapInfo(item.id, *SHAPE, segments=(Segment(1, "organ", "#e6194b", "organ"),))
    doc.execute(Put((info,)))
    return doc, item, info


def _median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


# ---------------------------------------------------------------------- slice render
class _PaneSurface(Surface):
    """A pane's surface whose strokes paint ``paint`` (what the volume mode's names)."""

    paint: LabelMapPaint | None = None

    def labelmap(self, place, create=True):
        return self.paint


def _pane(doc, item, info, volume, geo, axis, index):
    from app.widgets.volume.layers import SliceLabelLayer
    from app.widgets.volume.pane import SlicePane

    pane_name = {"k": "axial", "j": "coronal", "i": "sagittal"}[axis]
    place = Place(item.id, axis=axis, index=index)
    state = EditorState(doc, place=place)
    surface = _PaneSurface(place, (0, 0))
    pane = SlicePane(pane_name, axis, state, surface)
    pane.resize(*VIEW)
    pane.show()
    layer = SliceLabelLayer(doc, info.id, lambda: surface.place, pane.canvas.refresh_layers)
    pane.canvas.add_layer(layer)
    return pane, state, layer


def _show(pane, state, item, volume, geo, axis, index, window) -> None:
    place = Place(item.id, axis=axis, index=index)
    state.set(place=place)
    pane.surface.place = place
    src = VolumeSliceSource(place, volume, geo)
    pane.show_source(src, window)
    w, h = src.size
    pane.cross = (w / 2, h / 2)


def _render(canvas, target: QImage) -> None:
    p = QPainter(target)
    canvas.render_frame(p)
    p.end()


def _peer_render(volume, labels, axis, index, window, target: QImage, table) -> None:
    sl = {"k": lambda: volume[index], "j": lambda: volume[:, index],
          "i": lambda: volume[:, :, index]}[axis]()
    lab = {"k": lambda: labels[index], "j": lambda: labels[:, index],
           "i": lambda: labels[:, :, index]}[axis]()
    grey = np.clip((sl.astype(np.float32) - window.low) * (255.0 / window.width), 0, 255)
    grey = np.ascontiguousarray(grey.astype(np.uint8))
    over = np.ascontiguousarray(table[lab])
    h, w = grey.shape
    img = QImage(grey.data, w, h, w, QImage.Format.Format_Grayscale8)
    ovl = QImage(over.data, w, h, w * 4, QImage.Format.Format_ARGB32_Premultiplied)
    scale = min(target.width() / w, target.height() / h)
    rect = QRectF(0, 0, w * scale, h * scale)
    p = QPainter(target)
    p.fillRect(target.rect(), Qt.GlobalColor.darkGray)
    p.drawImage(rect, img)
    p.drawImage(rect, ovl)
    p.end()


def render_rows(doc, item, info, volume, geo, labels_dense) -> list[dict]:
    rows = []
    window = CT_PRESETS["CT soft tissue"]
    table = colour_table(doc.labelmap_info(info.id).segments, 0.45)
    target = QImage(*VIEW, QImage.Format.Format_RGB32)
    for axis, label in (("k", "512 x 512 axial"), ("j", "512 x 600 coronal")):
        start = SHAPE["kji".index(axis)] // 2 - SLICES // 2
        pane, state, layer = _pane(doc, item, info, volume, geo, axis, start)
        _show(pane, state, item, volume, geo, axis, start, window)
        _render(pane.canvas, target)
        ours, peer, wl = [], [], []
        for n in range(SLICES):
            t0 = time.perf_counter()
            _show(pane, state, item, volume, geo, axis, start + n, window)
            _render(pane.canvas, target)
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _peer_render(volume, labels_dense, axis, start + n, window, target, table)
            peer.append(time.perf_counter() - t0)
        for n in range(SLICES):
            t0 = time.perf_counter()
            pane.canvas.set_mapping(WindowLevel(400 + 10 * (n + 1), 40 + n))
            _render(pane.canvas, target)
            wl.append(time.perf_counter() - t0)
        rows.append({"name": f"slice render {label} (next slice)", "ours_ms": _median_ms(ours),
                     "peer_ms": _median_ms(peer), "peer": PEER_RENDER,
                     "notes": f"W/L + label overlay + crosshair; worst {max(ours) * 1e3:.1f} ms;"
                              " goal < 5 ms"})
        rows.append({"name": f"window/level change {label}", "ours_ms": _median_ms(wl),
                     "peer_ms": _median_ms(peer), "peer": PEER_RENDER + " (full redo)",
                     "notes": "pyramid kept, tile remade"})
        layer.close()
        pane.close()
    return rows


# ---------------------------------------------------------------------- brush strokes
def _peer_stroke(volume, labels, axis, index, path, size, table) -> list[float]:
    """Dense painting: stamp each move into the array (old values kept for undo), then draw
    the slice and its recoloured labels to the screen."""
    plane = {"k": lambda: labels[index], "j": lambda: labels[:, index],
             "i": lambda: labels[:, :, index]}[axis]()
    target = QImage(*VIEW, QImage.Format.Format_RGB32)
    window = CT_PRESETS["CT soft tissue"]
    undo = []
    times = []
    last = path[0]
    for p in path:
        t0 = time.perf_counter()
        got = footprint([last, p], RADIUS_MM, size, plane.shape)
        if got is not None:
            (r0, c0), hit = got
            h, w = hit.shape
            view = plane[r0:r0 + h, c0:c0 + w]
            undo.append(((r0, c0), view[hit].copy(), hit))
            view[hit] = 1
        _peer_render(volume, labels, axis, index, window, target, table)
        times.append(time.perf_counter() - t0)
        last = p
    return times


def brush_rows(doc, item, info, volume, geo, labels_dense) -> list[dict]:
    from app.tools.volume_brush import pixel_size

    rows = []
    settings = BrushSettings(radius_mm=RADIUS_MM)
    brush = VolumeBrush(volume, geo, settings)
    table = colour_table(doc.labelmap_info(info.id).segments, 0.45)
    window = CT_PRESETS["CT soft tissue"]
    for axis, name, sphere in (("k", "axial", False), ("j", "coronal", False),
                               ("i", "sagittal", False), ("k", "axial, 3D sphere", True)):
        settings.sphere = sphere
        index = SHAPE["kji".index(axis)] // 2
        pane, state, layer = _pane(doc, item, info, volume, geo, axis, index)
        pane.surface.paint = LabelMapPaint(info.id, 1, "#e6194b", brush=brush)
        state.set(brush_radius=RADIUS_MM / min(pixel_size(geo, axis)))
        _show(pane, state, item, volume, geo, axis, index, window)
        canvas = pane.canvas
        canvas.set_tool(BrushTool(state))
        w, h = pane.source.size
        path = [(w * (0.3 + 0.4 * t), h * (0.45 + 0.1 * math.sin(6 * t)))
                for t in np.linspace(0, 1, MOVES)]

        def at(x: float, y: float) -> QPoint:
            wx, wy = canvas.image_to_widget(x, y)
            return QPoint(int(wx), int(wy))

        target = QImage(canvas.width(), canvas.height(), QImage.Format.Format_RGB32)
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         at(*path[0]))
        moves = []
        for p in path[1:]:
            t0 = time.perf_counter()
            QTest.mouseMove(canvas, at(*p))
            _render(canvas, target)  # the frame the user sees after this move
            moves.append(time.perf_counter() - t0)
        assert canvas.tool.busy, "the drag did not reach the brush"
        t0 = time.perf_counter()
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                           at(*path[-1]))
        _render(canvas, target)
        release = time.perf_counter() - t0
        changed = doc.undo_command
        assert isinstance(changed, ModifyLabelMap) and changed.voxels_changed > 0
        peer_moves = _peer_stroke(volume, labels_dense, axis, index, path,
                                  pixel_size(geo, axis), table)
        rows.append({"name": f"brush move {name} (stamp + redraw)",
                     "ours_ms": _median_ms(moves), "peer_ms": _median_ms(peer_moves),
                     "peer": PEER_BRUSH, "notes": f"worst {max(moves) * 1e3:.1f} ms; "
                                                  f"radius {RADIUS_MM:g} mm; goal < 16 ms"})
        rows.append({"name": f"brush release {name} (commit + redraw)",
                     "ours_ms": release * 1000, "peer_ms": None, "peer": PEER_BRUSH,
                     "notes": f"{changed.voxels_changed} voxels, one undo step, written to "
                              "the project on disk; the peer has nothing to commit"})
        doc.undo()
        layer.close()
        pane.close()
    return rows


def run() -> list[dict]:
    _app()
    geo = VolumeGeometry(SHAPE, SPACING, (-200.0, -200.0, -300.0))
    volume = _ct()
    labels_dense = np.zeros(SHAPE, np.uint16)
    with tempfile.TemporaryDirectory() as tmp:
        doc, item, info = _project(Path(tmp) / "p", geo)
        try:
            blob = np.zeros(SHAPE, bool)  # something to overlay on the rendered slices
            kk = slice(SHAPE[0] // 2 - 40, SHAPE[0] // 2 + 40)
            blob[kk, 200:320, 180:330] = True
            doc.execute(ModifyLabelMap(info.id, (0, 0, 0), blob, value=1))
            labels_dense[blob] = 1
            del blob
            rows = render_rows(doc, item, info, volume, geo, labels_dense)
            rows += brush_rows(doc, item, info, volume, geo, labels_dense)
        finally:
            doc.close()
    return rows


if __name__ == "__main__":
    from benchmarks.report import print_table

    print_table("volume_view_bench", run())
