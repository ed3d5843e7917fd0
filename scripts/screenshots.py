"""Render the main window with the demo project in every tool, offscreen, to PNG files.

Usage: ``python scripts/screenshots.py [OUT_DIR] [--scale 2]`` (default ``screenshots/``).
Runs offscreen unless a display is set and ``--window`` is given (e.g. under ``xvfb-run``).
Also renders the light theme, the shortcut sheet, the class dialog, an unreadable image and
the welcome page, so every state a user sees can be looked at.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="screenshots")
    ap.add_argument("--scale", type=float, default=1.0, help="device pixel ratio (high-DPI)")
    ap.add_argument("--window", action="store_true", help="use the real display (Xvfb)")
    args = ap.parse_args()
    if not args.window:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if args.scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = str(args.scale)
    tmp = Path(tempfile.mkdtemp(prefix="vellum-shots-"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")  # fresh QSettings
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtTest import QTest

    from app.demo import build_demo
    from app.widgets import theme
    from app.widgets.app import make_app

    app = make_app([sys.argv[0]])
    theme.apply_theme(app, "dark")
    from app.widgets.class_dialog import ClassDialog
    from app.widgets.main_window import MainWindow
    from app.widgets.shortcuts import ShortcutSheet, action_rows

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    project = build_demo(tmp / "demo")
    win = MainWindow(None, settings=QSettings(str(tmp / "s.ini"), QSettings.IniFormat))
    win.resize(1600, 1000)
    win.show()
    written: list[Path] = []

    def wait(ms: int = 150) -> None:
        QTest.qWait(ms)

    def shot(name: str, widget=None) -> None:  # noqa: ANN001
        wait(120)
        path = out / f"{len(written):02d}_{name}.png"
        (widget or win).grab().save(str(path))
        written.append(path)

    shot("welcome")
    win.open_project(project)
    for _ in range(100):
        if win.canvas.showing() == "image" and win.media.model.thumbnail_count() >= 6:
            break
        wait(50)
    doc = win.state.doc
    canvas = win.canvas

    def click(x: float, y: float, button=Qt.LeftButton) -> None:  # noqa: ANN001
        wx, wy = canvas.image_to_widget(x, y)
        QTest.mouseClick(canvas, button, Qt.NoModifier, QPoint(round(wx), round(wy)))

    def hover(x: float, y: float) -> None:
        wx, wy = canvas.image_to_widget(x, y)
        QTest.mouseMove(canvas, QPoint(round(wx), round(wy)))

    anns = doc.annotations(win.state.media_id)
    car = next(a for a in anns if a.kind == "box")
    for name in win.tools:
        win.state.set(selection=())
        cls = {"box": "car", "rotated_box": "car", "polygon": "road", "polyline": "lane",
               "keypoints": "person", "brush": "sky", "eraser": "sky",
               "tag": "weather"}.get(name)
        if cls:
            win.labels.choose(doc.schema.class_by_name(cls).id)
        win.set_tool(name)
        win.statusBar().clearMessage()
        win.state.set(selection=(car.id,) if name in ("select", "vertex") else ())
        if name == "polygon":  # an in-progress polygon
            for x, y in ((300, 500), (520, 470), (600, 640)):
                click(x, y)
            hover(380, 690)
        elif name == "polyline":
            for x, y in ((900, 700), (1000, 600)):
                click(x, y)
            hover(1100, 560)
        elif name in ("brush", "eraser"):
            hover(640, 150)
        elif name == "tag":  # the tag tool: a click tags the image (chip at the top left)
            click(700, 400)  # (the demo image is tagged already: this click untags it,
            click(700, 400)  # the next one tags it again and selects the tag)
            hover(760, 430)
        elif name == "box":  # the crosshair and the active class at the cursor
            hover(430, 470)
        else:
            hover(car.shape.x + car.shape.w / 2, car.shape.y + car.shape.h / 2)
        shot(f"tool_{name}")
        if name == "box":
            shot("status_bar_active_class", win.statusBar())
        if canvas.tool is not None:
            canvas.tool.cancel()
    win.set_tool("select")
    sky = next(a for a in anns if a.kind == "mask")
    win.state.set(selection=(sky.id,))
    shot("mask_selected")
    win.state.set(selection=())
    win.set_outlines_only(True)
    shot("outlines_only")
    win.set_outlines_only(False)
    win.state.set(selection=(car.id,))
    win.step_media(1)
    for _ in range(60):
        if win.canvas.showing() == "image":
            break
        wait(50)
    shot("parking_next_image")
    theme.apply_theme(app, "light")
    win.step_media(1)
    wait(400)
    shot("light_theme")
    theme.apply_theme(app, "dark")
    sections = [(t, action_rows(a)) for t, a in win.sections.items()]
    sections.insert(1, ("Classes", [(c.name, c.hotkey) for c in doc.schema.classes if c.hotkey]))
    sheet = ShortcutSheet(sections, win)
    sheet.show()
    shot("shortcut_sheet", sheet)
    sheet.close()
    dialog = ClassDialog(doc.schema, doc.schema.class_by_name("person"), win)
    dialog.show()
    shot("class_dialog", dialog)
    dialog.close()
    dialog = ClassDialog(doc.schema, doc.schema.class_by_name("car"), win)  # attributes
    dialog.show()
    shot("class_dialog_attributes", dialog)
    dialog.close()
    broken = doc.folder / "images" / "05_title.png"
    data = broken.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    win.frames.clear()
    win.jump_media(4)
    clock = time.monotonic()
    while canvas.showing() != "message" and time.monotonic() - clock < 10:
        wait(20)
    print(f"unreadable image reported after {(time.monotonic() - clock) * 1000:.0f} ms; "
          f"running jobs: {[j.label for j in win.jobs.running()]}", file=sys.stderr)
    shot("unreadable_image")
    win.close()
    written += video_shots(out, tmp, len(written))
    written += segment_anything_shots(out, tmp, len(written))
    written += volume_shots(out, tmp, len(written))
    shutil.rmtree(tmp, ignore_errors=True)
    for p in written:
        print(p)
    return 0


def segment_anything_shots(out: Path, tmp: Path, first: int) -> list[Path]:
    """The SAM tool on a photo and on a video frame (the real window, its video mode), on a CT
    slice (a plain canvas showing a VolumeSliceSource, as a volume pane does), a propagation
    through the CT with its review list, and the model manager - with
    the real LiteMedSAM pack from ../shared/models imported into a temporary model folder
    (skipped with a note where it is absent)."""
    import numpy as np
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QHBoxLayout, QWidget

    from app.core.commands import Put, SetSchema
    from app.core.document import Document
    from app.core.geometry import VolumeGeometry
    from app.core.labelmap import LabelMapInfo, Segment
    from app.core.media import MediaItem, MediaKind
    from app.core.places import Place
    from app.demo import demo_schema
    from app.inference.pack_import import import_models
    from app.io.images import read_image, write_png
    from app.io.ingest import add_media
    from app.io.planes import VolumeSliceSource, WindowLevel
    from app.tools.paint import LabelMapPaint
    from app.tools.sam import SamTool
    from app.tools.state import EditorState
    from app.widgets.canvas import Canvas
    from app.widgets.labelmap_layer import LabelMapLayer
    from app.widgets.main_window import MainWindow
    from app.widgets.model_manager import ModelManager
    from app.widgets.sam_review import ReviewList

    shared = Path(__file__).resolve().parents[2] / "shared"
    written: list[Path] = []

    def save(name: str, widget) -> None:  # noqa: ANN001
        QTest.qWait(150)
        path = out / f"{first + len(written):02d}_{name}.png"
        widget.grab().save(str(path))
        written.append(path)

    def until(ready, ms: int = 60000) -> bool:  # noqa: ANN001
        for _ in range(ms // 50):
            if ready():
                return True
            QTest.qWait(50)
        return False

    models = tmp / "sam-models"
    os.environ["VELLUM_MODELS_DIR"] = str(models)
    litemedsam = shared / "models" / "litemedsam"
    have_model = litemedsam.is_dir() and not import_models(litemedsam, models).errors
    if not have_model:
        print(f"segment anything: {litemedsam} is absent; only the model manager is shown",
              file=sys.stderr)
    photo = shared / "data" / "images" / "chelsea.png"
    folder = tmp / "sam-project"
    image = read_image(photo) if photo.is_file() else np.full((300, 450, 3), 90, np.uint8)
    write_png(folder / "images" / "cat.png", image)
    from app.demo_media import car_box, write_demo_video

    clip = write_demo_video(folder / "drive.mp4")
    with Document.create(folder) as doc:
        doc.execute(SetSchema(demo_schema()))
        add_media(doc, [folder / "images", clip])
        video = next(m for m in doc.media() if m.kind is MediaKind.VIDEO)
    win = MainWindow(None, settings=QSettings(str(tmp / "sam.ini"), QSettings.IniFormat))
    win.resize(1500, 950)
    win.show()
    win.open_project(folder)
    until(lambda: win.canvas.showing() == "image")
    engine = win.sam.engine
    cat = win.state.doc.schema.class_by_name("person")  # a mask class with a visible colour
    win.labels.choose(cat.id)
    win.set_tool("sam")
    canvas = win.canvas

    def drag(c, a, b) -> None:  # noqa: ANN001
        pa = QPoint(*(round(v) for v in c.image_to_widget(*a)))
        pb = QPoint(*(round(v) for v in c.image_to_widget(*b)))
        QTest.mousePress(c, Qt.LeftButton, Qt.NoModifier, pa)
        for t in np.linspace(0, 1, 8):
            QTest.mouseMove(c, pa + (pb - pa) * t)
        QTest.mouseRelease(c, Qt.LeftButton, Qt.NoModifier, pb)

    def answered(tool) -> bool:  # noqa: ANN001
        return until(lambda: tool.pending is None and tool.answer is not None, 60000)

    if have_model:
        tool = canvas.tool
        drag(canvas, (60, 10), (390, 300))  # the cat's head
        answered(tool)
        QTest.mouseMove(canvas, QPoint(*(round(v) for v in canvas.image_to_widget(300, 260))))
        save("sam_photo", win)
        save("sam_status_bar", win.statusBar())
        tool.cancel()

    # a CT slice (the Philips phantom S2020 where present, else the demo phantom)
    ct, spacing = _sam_ct(shared)
    doc = Document.create(tmp / "sam-volume")
    geo = VolumeGeometry(ct.shape, spacing, (0.0, 0.0, 0.0),
                         ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)))
    vol = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="sam-shot-ct", size_bytes=1,
                    width=0, height=0, volume=geo)
    doc.execute(Put((vol,)))
    from app.core.schema import LabelClass, LabelSchema

    doc.execute(SetSchema(LabelSchema((LabelClass("insert", "#f58231", ("mask",), "1"),))))
    seg_class = doc.schema.class_by_name("insert")
    info = LabelMapInfo(vol.id, *ct.shape, "uint16",
                        segments=(Segment(1, "insert", seg_class.color, seg_class.id),))
    doc.execute(Put((info,)))
    seed = 70 if ct.shape[0] > 100 else ct.shape[0] // 2 + 2
    state = EditorState(doc, place=Place(vol.id, axis="k", index=seed), class_id=seg_class.id)
    state.labelmap_target = lambda place: LabelMapPaint(info.id, 1, seg_class.color)
    src = VolumeSliceSource(state.place, ct, geo)
    src.mapping = WindowLevel(80, 40)  # brain window: the ~100 HU inserts stand out
    state.picture = lambda p: src if p == src.place else None
    pane = Canvas(state)
    pane.resize(900, 760)
    layer = LabelMapLayer(doc, info.id, lambda: state.place, pane.refresh_layers)
    pane.add_layer(layer)
    pane.show_source(src, mapping=src.mapping)
    pane.show()
    ct_tool = SamTool(state, engine)
    pane.set_tool(ct_tool)
    box = (229, 219, 42, 42) if ct.shape[1] == 512 else (95, 44, 36, 36)  # an insert / the lesion
    if have_model:
        drag(pane, box[:2], (box[0] + box[2], box[1] + box[3]))
        answered(ct_tool)
        save("sam_ct_slice", pane)
        from app.widgets.jobs import Jobs
        from app.widgets.sam_jobs import propagate_volume_segment

        reviews: list = []
        host = type("Host", (), {})()
        host.state, host.jobs = state, Jobs()
        host.message = lambda text, ms=0: print(text, file=sys.stderr)
        host.error = lambda text: print("error:", text, file=sys.stderr)
        propagate_volume_segment(host, engine, ct_tool.model().id, src, ct_tool.box,
                                 state.labelmap_target(src.place), (80.0, 40.0),
                                 lambda title, r: reviews.append((title, r)))
        until(lambda: bool(reviews), 300000)
        ct_tool.cancel()
        if reviews:
            title, found = reviews[0]
            page = QWidget()
            lay = QHBoxLayout(page)
            review = ReviewList(lambda place: None)
            review.show_reviews(title, found)
            review.setFixedWidth(360)
            near = found[0].place.index if found else seed + 8
            state.set(place=Place(vol.id, axis="k", index=near))
            src2 = VolumeSliceSource(state.place, ct, geo)
            pane.setParent(page)
            pane.show_source(src2, mapping=src.mapping)
            lay.addWidget(pane, 1)
            lay.addWidget(review)
            page.resize(1280, 760)
            page.show()
            pane.labels.left()  # no class label left at the last pointer position
            save("sam_ct_propagated", page)
            page.close()

    pane.close()

    # a video frame in the window's video mode (the demo clip: a car driving across)
    win.show_media(video.id)
    presenter = win.presenter
    if have_model and presenter is not None and callable(getattr(presenter, "jump", None)):
        until(lambda: win.canvas.showing() == "image" and win.state.frame == 0, 20000)
        presenter.jump(30)
        until(lambda: win.state.frame == 30 and win.canvas.source is not None
              and win.canvas.source.place == win.state.place, 20000)
        win.labels.choose(win.state.doc.schema.class_by_name("car").id)
        win.set_tool("sam")
        x, y, w, h = car_box(30)
        drag(canvas, (x - 4, y - 4), (x + w + 4, y + h + 4))
        answered(canvas.tool)
        save("sam_video_frame", win)
        canvas.tool.cancel()

    dialog = ModelManager(win.jobs, win)
    dialog.show()
    until(lambda: dialog.report is not None)
    save("model_manager", dialog)
    dialog.close()
    win.close()
    doc.close()
    return written


def _sam_ct(shared: Path):  # noqa: ANN202
    """The S2020 phantom series as HU [k, j, i] with its spacing (mm), else the demo CT."""
    import numpy as np

    folder = shared / "data" / "dicom" / "philips_phantom_study" / "S2020"
    if folder.is_dir():
        import pydicom

        slices = []
        for path in sorted(folder.iterdir()):
            ds = pydicom.dcmread(path, force=True)
            if "ImagePositionPatient" in ds and "PixelData" in ds:
                hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
                slices.append((float(ds.ImagePositionPatient[2]), hu.astype(np.float32),
                               [float(v) for v in ds.PixelSpacing]))
        slices.sort(key=lambda s: s[0])
        z = [s[0] for s in slices]
        step = float(np.median(np.diff(z))) if len(z) > 1 else 1.0
        row, col = slices[0][2]
        return np.stack([s[1] for s in slices]), (col, row, abs(step))
    from app.demo_media import CT_SPACING, ct_phantom

    return ct_phantom().astype(np.float32), tuple(CT_SPACING)


def video_shots(out: Path, tmp: Path, first: int) -> list[Path]:
    """The video mode on the demo clip with its demo labels: the timeline under a frame
    between keyframes (the car's box dashed), a keyframe with the track's markers and the
    track list open, a frame range selected beside the "braking" event, the import report,
    and a damaged clip whose report warns."""
    import numpy as np
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtTest import QTest

    from app.core.commands import SetSchema
    from app.core.document import Document
    from app.demo import demo_schema
    from app.demo_media import write_demo_video
    from app.io.ingest import add_media
    from app.widgets.main_window import MainWindow
    from app.widgets.video.demo import demo_video_labels

    written: list[Path] = []

    def save(name: str, widget) -> None:  # noqa: ANN001
        QTest.qWait(200)
        path = out / f"{first + len(written):02d}_{name}.png"
        widget.grab().save(str(path))
        written.append(path)

    def until(ready, ms: int = 10000) -> bool:  # noqa: ANN001
        for _ in range(ms // 20):
            if ready():
                return True
            QTest.qWait(20)
        return False

    folder = tmp / "video-project"
    clip = write_demo_video(folder / "videos" / "drive.mp4")
    broken = folder / "videos" / "drive_cut.mkv"
    import av  # a copy that lost its last third (Matroska: what is left still plays)

    with av.open(str(clip)) as src, av.open(str(broken), "w") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    data = broken.read_bytes()
    with Document.create(folder) as doc:
        doc.execute(SetSchema(demo_schema()))
        add_media(doc, [clip, broken])
        item = next(m for m in doc.media() if m.name == "drive.mp4")
        doc.execute(demo_video_labels(doc, item))
    broken.write_bytes(data[: len(data) * 2 // 3])
    win = MainWindow(None, settings=QSettings(str(tmp / "video.ini"), QSettings.IniFormat))
    win.resize(1500, 950)
    win.show()
    win.open_project(folder)
    until(lambda: win.presenter is not None and win.state.frame == 0
          and win.canvas.showing() == "image")
    p = win.presenter

    def go(frame: int) -> None:
        p.jump(frame)
        until(lambda: win.state.frame == frame and win.canvas.showing() == "image")

    track = p.index.track_list()[0]
    go(20)
    p.choose_track(track.id)
    win.set_tool("select")
    save("video_mode_timeline", win)
    go(35)
    p.choose_track(track.id)
    row = p.tracks.track_row(track.id)
    if row is not None:
        row.setExpanded(True)
    save("video_track_keyframe_markers", win)
    bar = p.timeline.bar

    def at(frame: int) -> QPoint:
        top, bottom = bar.rows()["track"]
        return QPoint(round(bar.x_of(frame)), (top + bottom) // 2)

    QTest.mousePress(bar, Qt.LeftButton, Qt.ShiftModifier, at(12))
    for f in np.linspace(12, 28, 6)[1:]:
        QTest.mouseMove(bar, at(int(f)))
    QTest.mouseRelease(bar, Qt.LeftButton, Qt.ShiftModifier, at(28))
    go(48)
    save("video_event_range", win)
    save("video_timeline_closeup", p.panel)
    p.show_report()
    if p._report_box is not None:
        save("video_import_report", p._report_box)
        p._report_box.close()
    cut = next(m for m in win.state.doc.media() if m.name == "drive_cut.mkv")
    win.show_media(cut.id)
    until(lambda: p.report is not None)
    until(lambda: win.canvas.showing() == "image")
    save("video_damaged_report", win)
    win.close()
    return written

def volume_shots(out: Path, tmp: Path, first: int) -> list[Path]:
    """The volume mode on the demo CT (1.2 x 1.2 x 4 mm) with its painted lesion: three panes
    in the brain window with the crosshair on the lesion, the four-up layout with outlines, a
    bone-range brush stroke, the Segments panel, and a volume tilted 15 degrees (oblique
    notes)."""
    import numpy as np
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtTest import QTest

    from app.core.commands import SetSchema
    from app.core.document import Document
    from app.core.geometry import VolumeGeometry
    from app.demo import demo_schema
    from app.demo_media import CT_SPACING, ct_phantom, write_demo_ct
    from app.io.ingest import add_media
    from app.io.volume import write_nifti
    from app.widgets.main_window import MainWindow
    from app.widgets.volume.demo import demo_volume_labels

    written: list[Path] = []

    def save(name: str, widget) -> None:  # noqa: ANN001
        QTest.qWait(200)
        path = out / f"{first + len(written):02d}_{name}.png"
        widget.grab().save(str(path))
        written.append(path)

    def until(ready, ms: int = 15000) -> bool:  # noqa: ANN001
        for _ in range(ms // 20):
            if ready():
                return True
            QTest.qWait(20)
        return False

    folder = tmp / "volume-project"
    ct = write_demo_ct(folder / "ct")
    a = np.radians(15)  # the phantom again, tilted about the patient's left-right axis
    tilted = VolumeGeometry((36, 160, 160), CT_SPACING, (-95.4, -95.4, -60.0),
                            ((1, 0, 0), (0, np.cos(a), -np.sin(a)), (0, np.sin(a), np.cos(a))))
    write_nifti(folder / "tilted.nii.gz", ct_phantom(), tilted)
    with Document.create(folder) as doc:
        doc.execute(SetSchema(demo_schema()))
        add_media(doc, [ct, folder / "tilted.nii.gz"])
        item = next(m for m in doc.media() if m.name == "Demo head phantom")
        doc.execute(demo_volume_labels(doc, item))
    win = MainWindow(None, settings=QSettings(str(tmp / "volume.ini"), QSettings.IniFormat))
    win.resize(1600, 950)
    win.show()
    win.open_project(folder)
    win.show_media(item.id)
    until(lambda: getattr(win.presenter, "session", None) is not None)
    p = win.presenter
    s = p.session
    p.choose_preset("CT brain")
    win.set_tool("crosshair")
    axial = s.panes["axial"].canvas
    wx, wy = axial.image_to_widget(105.5, 59.5)  # the lesion
    QTest.mouseClick(axial, Qt.LeftButton, Qt.NoModifier, QPoint(round(wx), round(wy)))
    QTest.mouseMove(axial, QPoint(round(wx) + 30, round(wy) + 20))
    save("volume_three_panes_brain_window", win)
    p.view.set_layout("2x2")
    p.panel.outline.setChecked(True)
    save("volume_four_up_outline", win)
    p.panel.outline.setChecked(False)
    p.view.set_layout("1x3")
    p.choose_preset("CT bone")
    p.panel.add("bone")
    p.panel.limit_on.setChecked(True)
    p.panel.radius.setValue(7.0)
    win.set_tool("brush")
    coronal = s.panes["coronal"].canvas

    def at(x: float, y: float) -> QPoint:
        wx, wy = coronal.image_to_widget(x, y)
        return QPoint(round(wx), round(wy))

    for y in (14.5, 18.5, 22.5):  # strokes across the head: only the skull takes paint
        QTest.mousePress(coronal, Qt.LeftButton, Qt.NoModifier, at(4, y))
        for t in np.linspace(0, 1, 16)[1:]:
            QTest.mouseMove(coronal, at(4 + 152 * t, y))
        QTest.mouseRelease(coronal, Qt.LeftButton, Qt.NoModifier, at(156, y))
    QTest.mouseMove(coronal, at(100, 26))
    save("volume_bone_range_brush", win)
    save("volume_segments_panel", p.panel)
    tilt = next(m for m in win.state.doc.media() if m.name.startswith("tilted"))
    win.show_media(tilt.id)
    until(lambda: p.session is not None and p.session.item.id == tilt.id)
    p.choose_preset("CT soft tissue")
    save("volume_oblique_notes", win)
    win.close()
    return written


if __name__ == "__main__":
    sys.exit(main())
