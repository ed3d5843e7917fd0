"""Segment anything in the main window: its engine, its options, its menu entries, and where
models run in the status bar.

:func:`sam_entries` is called once while the window builds its menus
(``app.widgets.window_actions``): it makes the window's :class:`QtSamEngine` (the default of
every SAM tool, the volume panes' too), gives the window's SAM tool its options in the options
bar, probes the runtime for the status bar, and returns the Tools menu entries: Models…,
Propagate…, Track box…, Track every open track…
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QSpinBox,
                               QWidget)

from app.tools.base import OptionKind
from app.tools.sam_protocol import window_of
from app.widgets.menus import Entry
from app.widgets.sam_engine import QtSamEngine
from app.widgets.sam_jobs import (propagate_video_mask, propagate_volume_segment,
                                  seed_annotation, track_box)
from app.widgets.sam_review import show_model_review, show_review

TOOLS_MENU = "&Tools"


def gpu_name(index: int = 0) -> str:
    """The CUDA device's name as the driver reports it ('' without a driver or GPU)."""
    try:
        lib = ctypes.CDLL("nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1")
        device = ctypes.c_int(0)
        name = ctypes.create_string_buffer(128)
        if lib.cuInit(0) != 0 or lib.cuDeviceGet(ctypes.byref(device), index) != 0:
            return ""
        if lib.cuDeviceGetName(name, 128, device) != 0:
            return ""
        return name.value.decode(errors="replace").strip()
    except (OSError, AttributeError):
        return ""


def probe_runtime(_job: Any = None) -> dict[str, Any]:
    """Where models will run (worker thread: probing imports onnxruntime and opens a tiny
    session per provider): device words, GPU name, each provider and why not, warnings."""
    from app.inference.runtime import default_runtime, runtime_packages

    runtime = default_runtime()
    providers = [{"name": s.name, "device": s.device, "ok": s.ok, "reason": s.reason}
                 for s in runtime.providers()]
    device = runtime.device()
    packages = runtime_packages()
    warnings = [f"{' and '.join(p.split()[0] for p in packages)} are installed together and "
                "shadow each other"] if len(packages) > 1 else []
    return {"device": device, "gpu": gpu_name() if device.startswith("GPU") else "",
            "providers": providers, "warnings": warnings}


class FrameRange(QDialog):
    """Direction and number of frames for propagating or tracking along a video."""

    def __init__(self, title: str, frame: int, frames: int, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        form = QFormLayout(self)
        self.direction = QComboBox()
        self.direction.addItem("Forward", False)
        self.direction.addItem("Backward", True)
        self.count = QSpinBox()
        self.count.setRange(1, max(1, frames - 1))
        self.count.setValue(min(50, max(1, frames - 1 - frame)))
        self.count.setSuffix(" frames")
        form.addRow("Direction", self.direction)
        form.addRow("How far", self.count)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def choice(self) -> tuple[bool, int]:
        return bool(self.direction.currentData()), int(self.count.value())


def ask_range(parent: QWidget, title: str, frame: int, frames: int) -> tuple[bool, int] | None:
    dialog = FrameRange(title, frame, frames, parent)
    return dialog.choice() if dialog.exec() == QDialog.DialogCode.Accepted else None


class SamWindow(QObject):
    """The window's segment-anything pieces (see the module doc)."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.w = window
        self.engine = QtSamEngine(window)
        self.tool = window.tools.get("sam")
        if self.tool is not None:
            tool = self.tool
            tool.engine = self.engine
            tool.on_active = self._active
            tool.requests = {"propagate": self.propagate, "models": self.models_dialog}
            settings = window.settings  # the choice is remembered between sessions
            tool.choice.model_id = str(settings.value("sam_model", "") or "") or None
            tool.choice.output = str(settings.value("sam_output", "mask") or "mask")
            tool.on_choice = self._remember
        self._device_words = ""
        engine = self.engine
        window.destroyed.connect(lambda *_: _retire(engine))
        self.engine.device_found.connect(self._device)
        self.engine.answered.connect(self._answered)
        self.engine.models_changed.connect(self._refresh_options)
        window.jobs.start("Checking compute device", probe_runtime,
                          on_done=window.status.show_runtime, visible=False)

    # ------------------------------------------------------------------ options bar
    # The tool declares its options (model, output, Propagate…, Models…, the note); the
    # window's options bar builds them like every other tool's. Here: what they act on.
    def _remember(self, choice: Any) -> None:
        if choice.model_id:
            self.w.settings.setValue("sam_model", choice.model_id)
        self.w.settings.setValue("sam_output", choice.output)

    def _refresh_options(self, only: Any = None) -> None:
        bar = getattr(self.w, "tool_options", None)
        if bar is not None:
            bar.refresh(only)

    def _active(self, on: bool) -> None:
        if on:
            self.engine.rescan()  # also where the folder cannot be watched (a network share)
            self._refresh_options()

    def _device(self, device: str, fallback: str) -> None:
        self.w.status.show_model_device(device, fallback)
        self._device_words = device
        self._note()

    def _answered(self, answer: Any) -> None:
        if not answer.error:
            self._note(answer.ms, answer.wait_ms)

    def _note(self, ms: float | None = None, wait_ms: float = 0.0) -> None:
        """The tool's note: 'CPU · 48 ms' (the last answer's decoder time), with '+ 0.6 s
        encoding' when its picture had to be encoded first."""
        if self.tool is None:
            return
        parts = [self._device_words]
        if ms is not None:
            parts.append(f"{ms:.0f} ms" + (f" + {wait_ms / 1000:.1f} s encoding"
                                           if wait_ms >= 50 else ""))
        self.tool.note = " · ".join(p for p in parts if p)
        self._refresh_options(OptionKind.NOTE)  # only the note: a chooser may be open

    # ------------------------------------------------------------------ menu
    def entries(self) -> list[Entry]:
        return [
            Entry(TOOLS_MENU, separator=True),
            Entry(TOOLS_MENU, "&Models…", None, self.models_dialog,
                  "Installed AI models, where each runs and why; import more (offline)"),
            Entry(TOOLS_MENU, "&Propagate segmentation…", None, self.propagate,
                  "Carry the segment-anything mask up and down a volume, or along a video"),
            Entry(TOOLS_MENU, "Track &box…", None, self.track,
                  "Track the selected box forward or backward along the video"),
            Entry(TOOLS_MENU, "Track every &open track…", None, self.track_open,
                  "Track every box track of this video from its last keyframe on (one job "
                  "per track, in steps of 100 frames)", name="track_open"),
            Entry(TOOLS_MENU, "Review model &output", None, self.review_models,
                  "List the boxes and shapes models wrote (vellum detect, trackers...), "
                  "filter them by score, accept or reject them", name="review_models"),
        ]

    def review_models(self) -> None:
        show_model_review(self.w, self.go_to)

    def models_dialog(self) -> None:
        from app.widgets.model_manager import ModelManager

        dialog = ModelManager(self.w.jobs, self.w, changed=self.engine.refresh)
        dialog.exec()
        dialog.deleteLater()
        self.engine.rescan()

    def _review(self, title: str, reviews: list) -> None:
        show_review(self.w, title, reviews, self.go_to)

    def go_to(self, place: Any) -> None:
        """Show ``place``: a frame through the video mode's ``jump``, anything else through
        the mode's ``show_place`` when it has one, else as the editor's place."""
        presenter = getattr(self.w, "presenter", None)
        if place.is_frame and callable(getattr(presenter, "jump", None)):
            presenter.jump(place.frame)
        elif callable(getattr(presenter, "show_place", None)):
            presenter.show_place(place)
        else:
            self.w.state.set(place=place)

    def _model(self) -> Any:
        tool = self.tool
        model = tool.model() if tool is not None else None
        if model is None:
            self.w.message("No segmentation model is installed: Tools ▸ Models… imports one.")
        return model

    def _where(self) -> tuple[Any, Any]:
        """The window's SAM tool and the view (surface) it was used on last: a volume pane,
        the video frame or the photo (the window's before any use)."""
        tool = self.tool
        return tool, (tool.surface if tool is not None else self.w.state.surface)

    def propagate(self) -> None:
        """Propagate what the SAM tool shows (or the selected mask) from its place."""
        tool, surface = self._where()
        state = self.w.state
        place = state.place_on(surface)
        if place is None or state.doc is None:
            return
        if place.is_slice:
            self._propagate_volume(tool, surface, place)
        elif place.is_frame:
            model = self._model()
            if model is None:
                return
            chosen = self._run_from(seed_annotation(state, tool, ("mask",)),
                                    "Segment the object on this frame first (W), then "
                                    "propagate.", "Propagate the mask")
            if chosen is not None:
                seed, backward, frames = chosen
                propagate_video_mask(_Host(self.w, state), self.engine, model.id, seed, frames,
                                     backward, self._review)
        else:
            self.w.message("Propagation works on volume slices and video frames; on a photo, "
                           "Enter accepts the mask.")

    def _propagate_volume(self, tool: Any, surface: Any, place: Any) -> None:
        state = self.w.state
        model = self._model()
        source = surface.picture(place)
        target = surface.labelmap(place)
        if model is None:
            return
        if source is None or getattr(source, "volume", None) is None or target is None:
            self.w.message("Propagation through a volume needs the volume view with a label "
                           "map to paint into.")
            return
        box = volume_box(tool, place)
        if box is None:
            self.w.message("Segment the object on this slice first (W: drag a box around it), "
                           "then propagate.")
            return
        propagate_volume_segment(_Host(self.w, state), self.engine, model.id, source, box,
                                 target, window_of(source, getattr(tool, "windows", None)),
                                 self._review)

    def track(self) -> None:
        state = self.w.state
        place = state.place
        if place is None or not place.is_frame or state.doc is None:
            self.w.message("Tracking follows a box along a video: select a box on a frame.")
            return
        chosen = self._run_from(seed_annotation(state, None, ("box",)),
                                "Select the box to track (or draw one, R).", "Track the box")
        if chosen is not None:
            seed, backward, frames = chosen
            track_box(_Host(self.w, state), seed, frames, backward, on_review=self._review)

    def track_open(self) -> list[Any]:
        """Track every open box track of the video shown (its last stored shape a keyframe,
        not outside, not on the last frame) forward from that keyframe, as far as the user
        asks (CVAT's tracking of every open keyframe); returns the jobs started."""
        from app.core.shapes import Box
        from app.core.track_edits import open_tracks

        state = self.w.state
        place = state.place
        if place is None or not place.is_frame or state.doc is None:
            self.w.message("Tracking every open track works on a video: show one.")
            return []
        item = state.doc.media_item(place.media_id)
        found = open_tracks(state.doc, item, None, lambda a: isinstance(a.shape, Box))
        if not found:
            self.w.message("No open box track here: each track's last shape is outside, "
                           "tracked already or on the last frame.")
            return []
        dialog = FrameRange(f"Track {len(found)} open track{'s' * (len(found) > 1)}",
                            min(last.frame for _, last, _ in found), item.frames, self.w)
        dialog.direction.setEnabled(False)  # from each track's last keyframe on
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return []
        frames = dialog.choice()[1]
        host = _Host(self.w, state)
        jobs = [track_box(host, last, frames, False, on_review=self._review)
                for _, last, _ in found]
        return [j for j in jobs if j is not None]

    def _run_from(self, seed: Any, missing: str, title: str) -> tuple[Any, bool, int] | None:
        """(seed, backward, frames) of a run along the video from ``seed``'s frame, as the
        user asks in a dialog; None when there is no seed (``missing`` says so) or the user
        cancels."""
        if seed is None:
            self.w.message(missing)
            return None
        item = self.w.state.doc.media_item(seed.media_id)
        chosen = ask_range(self.w, title, seed.frame, item.frames)
        return None if chosen is None else (seed, chosen[0], chosen[1])


class _Host:
    """The window as a job host, with the editor state of the view the work starts from."""

    def __init__(self, window: Any, state: Any) -> None:
        self.w, self.state, self.jobs = window, state, window.jobs

    def message(self, text: str, ms: int = 4000) -> None:
        self.w.message(text, ms)

    def error(self, text: str) -> None:
        self.w.error(text)


def volume_box(tool: Any, place: Any, margin: float = 3.0
               ) -> tuple[float, float, float, float] | None:
    """The seed box on ``place``: the SAM tool's box there, else its previewed or last
    accepted mask's box grown by ``margin`` px."""
    from app.inference.masks import mask_box

    if tool is None:
        return None
    if tool.place == place and tool.box is not None:
        return tool.box
    masks = []
    if tool.place == place and tool.answer is not None:
        masks.append(tool.answer.mask)
    if tool.accepted is not None and tool.accepted.place == place:
        masks.append(tool.accepted.mask)
    for mask in masks:
        b = mask_box(mask) if mask is not None else None
        if b is not None:
            return (b[0] - margin, b[1] - margin, b[2] + 2 * margin, b[3] + 2 * margin)
    return None


def _retire(engine: QtSamEngine) -> None:
    engine.close()


def sam_entries(window: Any) -> list[Entry]:
    """Wire segment anything into ``window`` and return its Tools menu entries."""
    glue = SamWindow(window)
    window.sam = glue
    return glue.entries()
