"""The 3D view of the volume mode (the fourth quadrant of the 2x2 layout; a double click on its
title maximises it, as on a pane), drawn with VTK as 3D Slicer and ITK-SNAP draw theirs.

What it shows, all in patient LPS (mm) through the volume's ``voxel_to_world``: each segment
of the active label map as a smoothed, decimated surface in its colour
(:mod:`app.io.volume.surfaces`), hidden when the Segments panel hides it, as opaque as its
"3D %" cell there says (:mod:`app.widgets.volume.segment_opacity`) times the view's one
opacity slider for them all; the three slice planes through the crosshair with the volume's values at
the panes' window/level; an orientation cube with the patient letters (L/R, A/P, S/I).
Left-drag rotates, right-drag or the wheel zooms, middle-drag (or Shift+left-drag) pans; a
click (no drag) on a surface or a plane moves the crosshair there, and the panes follow.
Surfaces are rebuilt on the window's workers after label-map edits (bursts coalesce into one
rebuild); the UI thread only hands the finished meshes to VTK.

VTK is imported only when the view is first shown. Where no OpenGL window can be made (the
offscreen or minimal Qt platform, a display without OpenGL, ``VELLUM_NO_3D`` set, or VTK not
installed), the view says so in one sentence instead.
"""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QOpenGLContext
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QSlider, QToolButton,
                               QVBoxLayout, QWidget)

from app.core.document import Change, ChangeKind
from app.widgets.volume.pane import PaneTitle
from app.widgets.volume.segment_opacity import SurfaceOpacity, surface_style

CLICK_SLOP = 3  # screen px a press may move and still be a click (not a rotation)
REBUILD_DELAY_MS = 250  # edits closer together than this are one rebuild
TITLE_COLOUR = "#8e7cc3"
GL_PLATFORMS = ("xcb", "windows", "cocoa")
VIEW_HELP = ("Double-click to maximise the 3D view (and back). Left-drag: rotate, right-drag "
             "or wheel: zoom, middle-drag or Shift+left-drag: pan, click a surface or a "
             "plane: move the crosshair there")

_why_not: list[str | None] = []  # cached answer of why_no_3d (one probe per process)


def why_no_3d() -> str | None:
    """One sentence saying why this process cannot show the 3D view; None when it can.
    Probed once: the Qt platform, an OpenGL context made by Qt (safe where there is none),
    then VTK's import and its own OpenGL check."""
    if os.environ.get("VELLUM_NO_3D"):
        return "The 3D view is switched off here (VELLUM_NO_3D is set); the panes work as usual."
    if _why_not:
        return _why_not[0]
    _why_not.append(_probe())
    return _why_not[0]


def _probe() -> str | None:
    platform = QGuiApplication.platformName()
    if platform not in GL_PLATFORMS:
        return (f"No 3D view on this display: the {platform!r} Qt platform has no OpenGL "
                "window to draw it in (the slice panes work as usual).")
    context = QOpenGLContext()
    if not context.create():
        return ("No 3D view on this display: no OpenGL context could be made (install an "
                "OpenGL driver, e.g. Mesa); the slice panes work as usual.")
    del context
    try:
        from vtkmodules.vtkRenderingCore import vtkRenderWindow

        import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (the OpenGL render window)

        assert vtkmodules.vtkRenderingOpenGL2
    except ImportError:
        return "No 3D view: VTK is not installed (pip install vtk); the panes work as usual."
    try:
        window = vtkRenderWindow()
        ok = bool(window.SupportsOpenGL())
        window.Finalize()
    except Exception:  # noqa: BLE001 - any failure means: no 3D view, never a crash
        ok = False
    if not ok:
        return ("No 3D view on this display: VTK found no usable OpenGL (3.2 or newer); the "
                "slice panes work as usual.")
    return None


def lps_cube_texts() -> dict[str, str]:
    """The orientation cube's face letters: +x is patient Left, +y Posterior, +z Superior."""
    return {"XPlus": "L", "XMinus": "R", "YPlus": "P", "YMinus": "A", "ZPlus": "S",
            "ZMinus": "I"}


class View3D(QWidget):
    """See the module doc. :meth:`attach` a volume session, :meth:`detach` when it goes."""

    maximise = Signal(object)  # this view (double click on the title)

    pane = "3d"

    def __init__(self, jobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("view3d")
        self.jobs = jobs
        self.session = None
        self.note: str | None = None  # why there is no 3D view (set when first shown)
        self.vtk_widget = None
        self.renderer = None
        self.actors: dict[int, object] = {}  # segment value -> vtkActor
        self.planes: dict[str, object] = {}  # array axis -> vtkImageActor
        self.meshes: dict[int, object] = {}  # segment value -> SegmentMesh shown
        self.surface_opacity = SurfaceOpacity()  # per segment (the presenter shares the panel's)
        self.builds = 0  # surface sets handed to VTK (tests wait on it)
        self._labels: np.ndarray | None = None  # cached copy of the active label map
        self._labelmap_id: str | None = None
        self._values: tuple[int, ...] = ()
        self._job = None
        self._again = False
        self._stale = False  # an edit came while the view was hidden: rebuild when shown
        self._generation = 0
        self._camera_set = False
        self._press: tuple[float, float] | None = None  # where a left press was (px)
        self._unsubscribe = None
        self.title = PaneTitle("  3D")
        self.title.setObjectName("pane_title_3d")
        self.title.setToolTip(VIEW_HELP)
        self.title.setStyleSheet(f"background:{TITLE_COLOUR}; color:#111; padding:1px 4px;"
                                 "font-weight:bold;")
        self.title.double_clicked.connect(lambda: self.maximise.emit(self))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("view3d_opacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(100)
        self.opacity.setMaximumWidth(110)
        self.opacity.setToolTip("Opacity of all segment surfaces (times each segment's own "
                                "in the Segments panel's 3D % column)")
        self.opacity.valueChanged.connect(lambda _: self.restyle())
        self.show_planes = QCheckBox("Slices")
        self.show_planes.setObjectName("view3d_slices")
        self.show_planes.setChecked(True)
        self.show_planes.setToolTip("Show the three slice planes through the crosshair")
        self.show_planes.toggled.connect(lambda _: self._planes_visibility())
        self.reset = QToolButton()
        self.reset.setText("Reset view")
        self.reset.setToolTip("Look at the volume from the front (anterior), superior up")
        self.reset.clicked.connect(self.reset_camera)
        for w in (self.opacity, self.show_planes, self.reset):  # the keyboard stays with
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the active pane (its keys, its tool)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.setSpacing(4)
        head.addWidget(self.title, 1)
        head.addWidget(QLabel("Opacity"))
        head.addWidget(self.opacity)
        head.addWidget(self.show_planes)
        head.addWidget(self.reset)
        self.body = QVBoxLayout()
        self.body.setContentsMargins(0, 0, 0, 0)
        self.message = QLabel()
        self.message.setObjectName("view3d_note")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setMargin(10)
        self.body.addWidget(self.message, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(1, 1, 1, 1)
        lay.setSpacing(0)
        lay.addLayout(head)
        lay.addLayout(self.body, 1)
        self._timer = QTimer(self, singleShot=True, interval=REBUILD_DELAY_MS)
        self._timer.timeout.connect(self.rebuild)
        self._restyle_timer = QTimer(self, singleShot=True, interval=0)
        self._restyle_timer.timeout.connect(self.restyle)

    # ------------------------------------------------------------------ VTK, made when shown
    def showEvent(self, e) -> None:  # noqa: N802
        super().showEvent(e)
        if self.note is None and self.vtk_widget is None:
            self._make()
        if self.vtk_widget is not None and self.session is not None:
            if self._labels is None or self._stale:
                self._schedule(now=True)
            QTimer.singleShot(0, self.render)

    def _make(self) -> None:
        self.note = why_no_3d()
        if self.note is not None:
            self.message.setText(self.note)
            for w in (self.opacity, self.show_planes, self.reset):
                w.setEnabled(False)
            return
        import vtkmodules.qt

        vtkmodules.qt.PyQtImpl = "PySide6"
        import vtkmodules.vtkInteractionStyle  # noqa: F401
        import vtkmodules.vtkRenderingFreeType  # noqa: F401
        import vtkmodules.vtkRenderingOpenGL2  # noqa: F401
        from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
        from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
        from vtkmodules.vtkInteractionWidgets import vtkOrientationMarkerWidget
        from vtkmodules.vtkRenderingAnnotation import vtkAnnotatedCubeActor
        from vtkmodules.vtkRenderingCore import vtkCellPicker, vtkRenderer

        self.message.hide()
        w = self.vtk_widget = QVTKRenderWindowInteractor(self)
        w.setObjectName("view3d_render")
        w.setMinimumSize(120, 100)
        w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.body.addWidget(w, 1)
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(0.08, 0.08, 0.1)
        window = w.GetRenderWindow()
        window.AddRenderer(self.renderer)
        iren = window.GetInteractor()
        iren.SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        self.picker = vtkCellPicker()
        self.picker.SetTolerance(0.0005)
        w.installEventFilter(self)  # a click (the style grabs VTK's release events)
        w.Initialize()
        cube = vtkAnnotatedCubeActor()
        for face, text in lps_cube_texts().items():
            getattr(cube, f"Set{face}FaceText")(text)
        cube.GetCubeProperty().SetColor(0.75, 0.75, 0.8)
        cube.GetTextEdgesProperty().SetColor(0.3, 0.3, 0.3)
        self.marker = vtkOrientationMarkerWidget()
        self.marker.SetOrientationMarker(cube)
        self.marker.SetInteractor(iren)
        self.marker.SetViewport(0.0, 0.0, 0.2, 0.2)
        self.marker.SetEnabled(1)
        self.marker.InteractiveOff()
        app = QGuiApplication.instance()
        app.aboutToQuit.connect(self.finalize)
        if self.session is not None:
            self._session_scene()

    def finalize(self) -> None:
        """Let VTK release its OpenGL window (before the widget goes)."""
        if self.vtk_widget is not None:
            try:
                self.marker.SetEnabled(0)
                self.vtk_widget.Finalize()
            except RuntimeError:
                pass
            self.vtk_widget = None

    @property
    def ready(self) -> bool:
        """True when VTK draws here (not a note, not finalised)."""
        return self.vtk_widget is not None

    def render(self) -> None:
        if self.vtk_widget is not None and self.vtk_widget.isVisible():
            self.vtk_widget.GetRenderWindow().Render()

    # ------------------------------------------------------------------ the session
    def attach(self, session) -> None:
        """Show ``session``'s volume (its slices now, its surfaces once built)."""
        self.detach()
        self.session = session
        self._generation += 1
        self._camera_set = False
        session.moved.connect(self.update_planes)
        session.window_changed.connect(self.update_planes)
        self._unsubscribe = session.host.state.doc.subscribe(self._doc_changed)
        if self.vtk_widget is not None:
            self._session_scene()
            if self.isVisible():
                self._schedule(now=True)

    def detach(self) -> None:
        s = self.session
        if s is None:
            return
        for signal, slot in ((s.moved, self.update_planes),
                             (s.window_changed, self.update_planes)):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.session = None
        self._generation += 1
        self._timer.stop()
        if self._job is not None:
            self._job.cancel()
            self._job = None
        self._again = False
        self._labels, self._labelmap_id, self._values = None, None, ()
        self._set_meshes({})
        if self.renderer is not None:
            for actor in self.planes.values():
                self.renderer.RemoveActor(actor)
        self.planes = {}

    def _session_scene(self) -> None:
        """The planes of the session's volume and a camera from the front."""
        from vtkmodules.vtkRenderingCore import vtkImageActor

        for axis in "ijk":
            actor = vtkImageActor()
            actor.SetUserMatrix(_vtk_matrix(self.session.geometry.affine_lps()))
            actor.GetProperty().SetInterpolationTypeToLinear()
            self.renderer.AddActor(actor)
            self.planes[axis] = actor
        self.update_planes()
        self._planes_visibility()
        self.reset_camera()

    # ------------------------------------------------------------------ slice planes
    def update_planes(self, *_: object) -> None:
        """The three planes through the crosshair, at the panes' window/level."""
        s = self.session
        if s is None or not self.planes:
            return
        from vtkmodules.util.numpy_support import numpy_to_vtk
        from vtkmodules.vtkCommonDataModel import vtkImageData

        lo = s.window.level - s.window.width / 2
        for axis, actor in self.planes.items():
            n = s.crosshair.index(axis)
            k, j, i = s.array.shape
            if axis == "k":
                plane, extent = s.array[n], (0, i - 1, 0, j - 1, n, n)
            elif axis == "j":
                plane, extent = s.array[:, n, :], (0, i - 1, n, n, 0, k - 1)
            else:
                plane, extent = s.array[:, :, n], (n, n, 0, j - 1, 0, k - 1)
            grey = np.clip((plane.astype(np.float32) - lo) * (255.0 / s.window.width), 0, 255)
            image = vtkImageData()
            image.SetExtent(*extent)
            image.GetPointData().SetScalars(
                numpy_to_vtk(np.ascontiguousarray(grey.astype(np.uint8)).ravel(), deep=True))
            actor.SetInputData(image)
            actor.SetDisplayExtent(*extent)
        self.render()

    def _planes_visibility(self) -> None:
        for actor in self.planes.values():
            actor.SetVisibility(self.show_planes.isChecked())
        self.render()

    # ------------------------------------------------------------------ camera and picking
    def reset_camera(self) -> None:
        """Look from the front (anterior, -y in LPS) with superior up: patient left on
        screen right, as Slicer's Anterior view."""
        if self.renderer is None or self.session is None:
            return
        g = self.session.geometry
        k, j, i = g.shape
        corners = g.voxel_to_world(np.array([[a, b, c] for a in (0, i - 1) for b in (0, j - 1)
                                             for c in (0, k - 1)], float))
        centre = corners.mean(axis=0)
        size = float(np.ptp(corners, axis=0).max()) or 1.0
        cam = self.renderer.GetActiveCamera()
        cam.SetFocalPoint(*centre)
        cam.SetPosition(*(centre + np.array([0.0, -3.0 * size, 0.0])))
        cam.SetViewUp(0.0, 0.0, 1.0)
        self.renderer.ResetCamera(*np.column_stack([corners.min(0), corners.max(0)]).ravel())
        self._camera_set = True
        self.render()

    def eventFilter(self, obj, e) -> bool:  # noqa: N802
        """A left click without a drag on the render widget picks (see :meth:`pick`)."""
        if obj is self.vtk_widget and e.type() in (QEvent.Type.MouseButtonPress,
                                                   QEvent.Type.MouseButtonRelease):
            if e.button() == Qt.MouseButton.LeftButton:
                pos = (e.position().x(), e.position().y())
                if e.type() == QEvent.Type.MouseButtonPress:
                    self._press = pos
                else:
                    press, self._press = self._press, None
                    if press is not None and abs(pos[0] - press[0]) + abs(
                            pos[1] - press[1]) <= CLICK_SLOP:
                        scale = self.vtk_widget.devicePixelRatioF()
                        self.pick(round(pos[0] * scale),
                                  round((self.vtk_widget.height() - pos[1] - 1) * scale))
        return False

    def pick(self, x: float, y: float) -> np.ndarray | None:
        """Move the crosshair to what is drawn at display point (x, y) (VTK display pixels,
        origin bottom left): a surface or a plane. The LPS point (mm), or None on nothing."""
        if self.renderer is None or self.session is None:
            return None
        if not self.picker.Pick(x, y, 0, self.renderer) or self.picker.GetProp3D() is None:
            return None
        world = np.array(self.picker.GetPickPosition(), float)
        self.session.crosshair.move_to(world)
        self.session.show_slices()
        return world

    def display_point(self, world) -> tuple[float, float]:
        """Display position (VTK pixels, origin bottom left) of LPS point ``world`` (mm)."""
        from vtkmodules.vtkRenderingCore import vtkCoordinate

        c = vtkCoordinate()
        c.SetCoordinateSystemToWorld()
        c.SetValue(*(float(v) for v in world))
        x, y = c.GetComputedDoubleDisplayValue(self.renderer)
        return x, y

    # ------------------------------------------------------------------ surfaces
    def _doc_changed(self, changes: list[Change]) -> None:
        s = self.session
        if s is None or s.closed:
            return
        info = s.segmentation.info()
        lm = info.id if info is not None else None
        for c in changes:
            if c.kind == ChangeKind.RESET or lm != self._labelmap_id:
                self._labels = None
            elif c.kind == ChangeKind.LABELMAP and lm in c.ids and "start" in c.extra:
                if self._labels is not None:
                    start, shape = tuple(c.extra["start"]), tuple(c.extra["shape"])
                    box = tuple(slice(a, a + n) for a, n in zip(start, shape))
                    self._labels[box] = s.host.state.doc.labelmap_region(lm, start, shape)
            elif c.kind == ChangeKind.LABELMAP and "start" not in c.extra:
                values = tuple(sorted(x.value for x in info.segments)) if info else ()
                if values != self._values:
                    self._values = values
                else:
                    self.restyle()
                    continue
            else:
                continue
            self._schedule()

    def _schedule(self, now: bool = False) -> None:
        if self.vtk_widget is None or self.session is None:
            return
        self._timer.start(0 if now else REBUILD_DELAY_MS)

    def labelmap_chosen(self, *_: object) -> None:
        """The Segments panel made another label map the active one: show its segments."""
        self._schedule(now=True)

    def rebuild(self) -> None:
        """Build every segment's surface of the active label map on a worker (one at a time:
        an edit during a build asks for one more build after it)."""
        s = self.session
        if s is None or self.vtk_widget is None:
            return
        if not self.isVisible():  # nobody looks: build when shown
            self._stale = True
            return
        if self._job is not None:
            self._again = True
            return
        self._stale = False
        info = s.segmentation.info()
        if info is None:
            self._labels, self._labelmap_id, self._values = None, None, ()
            self._set_meshes({})
            return
        if self._labels is None or self._labelmap_id != info.id:
            self._labels = s.host.state.doc.labelmap_volume(info.id)
            self._labelmap_id = info.id
        self._values = tuple(sorted(x.value for x in info.segments))
        labels, geometry, values = self._labels.copy(), s.geometry, self._values
        generation = self._generation
        first = not self.meshes

        def work(job):
            from app.io.volume.surfaces import build_surfaces

            return build_surfaces(labels, geometry, values, cancelled=lambda: job.cancelled,
                                  progress=lambda d, t: job.progress(d, t))

        self._job = self.jobs.start("Building 3D surfaces", work,
                                    on_done=lambda m, g=generation: self._built(g, m),
                                    on_error=lambda e, g=generation: self._failed(g, e),
                                    visible=first)

    def _built(self, generation: int, meshes: dict) -> None:
        self._job = None
        if generation != self._generation:
            return
        self._set_meshes(meshes)
        self.builds += 1
        if self._again:
            self._again = False
            self._schedule(now=True)

    def _failed(self, generation: int, exc: Exception) -> None:
        self._job = None
        if generation == self._generation and self.session is not None:
            self.session.host.error(f"The 3D surfaces could not be built ({exc}).")

    def _set_meshes(self, meshes: dict) -> None:
        if self.renderer is None:
            self.meshes = {}
            return
        for actor in self.actors.values():
            self.renderer.RemoveActor(actor)
        self.actors = {}
        self.meshes = dict(meshes)
        from vtkmodules.vtkFiltersCore import vtkPolyDataNormals
        from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

        for value, mesh in meshes.items():
            normals = vtkPolyDataNormals()
            normals.SetInputData(_polydata(mesh))
            normals.SplittingOff()
            normals.ConsistencyOn()
            mapper = vtkPolyDataMapper()
            mapper.SetInputConnection(normals.GetOutputPort())
            mapper.ScalarVisibilityOff()
            actor = vtkActor()
            actor.SetMapper(mapper)
            self.renderer.AddActor(actor)
            self.actors[value] = actor
        self.restyle()

    def restyle_soon(self, *_: object) -> None:
        """:meth:`restyle` once the events now queued are handled (bursts are one)."""
        self._restyle_timer.start()

    def restyle(self) -> None:
        """Colour, visibility (the Segments panel's) and opacity (the segment's own, times the
        slider) of each surface."""
        s = self.session
        info = s.segmentation.info() if s is not None else None
        if info is None:
            return
        hidden = s.hidden_values.get(info.id, frozenset())
        master = self.opacity.value() / 100.0
        for value, actor in self.actors.items():
            seg = info.segment(value)
            if seg is None:
                actor.SetVisibility(False)
                continue
            c = QColor(seg.color)
            prop = actor.GetProperty()
            prop.SetColor(c.redF(), c.greenF(), c.blueF())
            opacity, visible = surface_style(self.surface_opacity.get(info.id, value), master,
                                             value in hidden)
            prop.SetOpacity(opacity)
            prop.SetAmbient(0.15)
            prop.SetDiffuse(0.85)
            prop.SetSpecular(0.1)
            actor.SetVisibility(visible)
        self.render()

    # ------------------------------------------------------------------ pictures
    def screenshot(self) -> np.ndarray:
        """What the render window shows now, (rows, cols, 3) uint8 RGB, row 0 at the top."""
        from vtkmodules.util.numpy_support import vtk_to_numpy
        from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

        window = self.vtk_widget.GetRenderWindow()
        window.Render()
        grab = vtkWindowToImageFilter()
        grab.SetInput(window)
        grab.SetInputBufferTypeToRGB()
        grab.ReadFrontBufferOff()
        grab.Update()
        out = grab.GetOutput()
        w, h, _ = out.GetDimensions()
        rgb = vtk_to_numpy(out.GetPointData().GetScalars()).reshape(h, w, -1)[:, :, :3]
        return np.ascontiguousarray(rgb[::-1])


def _vtk_matrix(m: np.ndarray):
    from vtkmodules.vtkCommonMath import vtkMatrix4x4

    out = vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            out.SetElement(r, c, float(m[r, c]))
    return out


def _polydata(mesh):
    """A SegmentMesh as vtkPolyData (points LPS mm, triangles)."""
    from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
    from vtkmodules.vtkCommonCore import vtkPoints
    from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData

    points = vtkPoints()
    points.SetData(numpy_to_vtk(np.ascontiguousarray(mesh.points, np.float64), deep=True))
    tris = np.asarray(mesh.triangles, np.int64)
    offsets = np.arange(0, 3 * len(tris) + 1, 3, dtype=np.int64)
    cells = vtkCellArray()
    cells.SetData(numpy_to_vtkIdTypeArray(offsets, deep=True),
                  numpy_to_vtkIdTypeArray(tris.ravel().copy(), deep=True))
    poly = vtkPolyData()
    poly.SetPoints(points)
    poly.SetPolys(cells)
    return poly
