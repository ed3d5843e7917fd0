"""The one interface every editing tool implements, free of Qt.

A view (the 2D canvas, showing a photo, a video frame or a volume slice) turns its input into
:class:`PointerEvent` / :class:`KeyEvent` values in *image* space (continuous pixel coordinates,
pixel (c, r) covers [c, c+1) x [r, r+1)) and hands them to the active :class:`Tool`. The tool
turns them into app/core commands executed through ``state.execute(...)`` and describes what to
preview with :meth:`Tool.overlay`. A tool never touches Qt or the store.

Every event carries the :class:`~app.tools.surface.Surface` it happened on (what the pointer is
over: its place, picture, what may be edited there and how). One tool set and one editor state
serve every view of a window; a tool works on the surface of its last event
(:attr:`Tool.surface`), so the same tool draws on a photo, a video frame and each volume pane.

A gesture reads top to bottom in one generator (napari style)::

    def gesture(self, press):
        ...                 # press: set up
        e = yield
        while e.type is EventType.MOVE:
            ...             # drag
            e = yield
        ...                 # e is the release: commit
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from enum import Enum, IntFlag, StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from app.core.changes import Change, ChangeKind
from app.core.places import Place

from app.tools.surface import Surface

if TYPE_CHECKING:
    from app.tools.state import EditorState

HIT_TOLERANCE = 8.0  # screen pixels within which a vertex or edge counts as hit
# what a running gesture may have copied at its press: an edit of these ends the gesture
_CONTENT_CHANGES = frozenset({ChangeKind.ANNOTATIONS, ChangeKind.TRACKS, ChangeKind.LABELMAP,
                              ChangeKind.SCHEMA, ChangeKind.RESET})
# of those, the ones that concern every media item (not only those in ``media_ids``)
_EVERYWHERE = (ChangeKind.SCHEMA, ChangeKind.RESET)


class EventType(Enum):
    PRESS = "press"
    MOVE = "move"
    RELEASE = "release"
    DOUBLE = "double"


class Button(IntFlag):
    NONE = 0
    LEFT = 1
    RIGHT = 2
    MIDDLE = 4


class Mod(IntFlag):
    NONE = 0
    SHIFT = 1
    CTRL = 2
    ALT = 4
    META = 8


@dataclass(frozen=True)
class PointerEvent:
    """A pointer event in image space. ``x, y``: continuous image pixels; ``button``: the
    button that changed (press/release), ``buttons``: those held; ``scale``: screen pixels per
    image pixel (divide a screen tolerance by it to get image pixels); ``place``: where it
    happened (the canvas's media item, frame or volume slice; None: the editor's place);
    ``surface``: the view it happened on (None: the window's)."""

    type: EventType
    x: float
    y: float
    button: Button = Button.NONE
    buttons: Button = Button.NONE
    modifiers: Mod = Mod.NONE
    scale: float = 1.0
    place: Place | None = None
    surface: Surface | None = None

    @property
    def pos(self) -> tuple[float, float]:
        return (self.x, self.y)

    def tolerance(self, screen_px: float = HIT_TOLERANCE) -> float:
        """``screen_px`` screen pixels expressed in image pixels."""
        return screen_px / max(self.scale, 1e-9)


@dataclass(frozen=True)
class KeyEvent:
    """A key press: ``key`` is Qt's key name without ``Key_`` ('Escape', 'Return', 'A',
    'BracketLeft', 'Delete', ...); ``text`` what it types."""

    key: str
    modifiers: Mod = Mod.NONE
    text: str = ""

    @property
    def plain(self) -> bool:
        """No Ctrl / Alt / Meta held (Shift allowed)."""
        return not (self.modifiers & (Mod.CTRL | Mod.ALT | Mod.META))


class OverlayKind(StrEnum):
    """What an :class:`OverlayItem` draws (a ``str`` enum: ``kind == "mask"`` holds)."""

    POLYGON = "polygon"
    POLYLINE = "polyline"
    POINTS = "points"
    RECT = "rect"  # points = two corners
    CIRCLE = "circle"  # points = centre, ``radius`` in image px
    MASK = "mask"  # ``mask``: a uint8/bool H x W array over the whole image, drawn where non-zero
    TEXT = "text"  # ``text`` at points[0], screen-size font
    CROSSHAIR = "crosshair"  # lines across the whole view through points[0]


@dataclass(frozen=True, eq=False)
class OverlayItem:
    """Something a tool wants previewed, in image coordinates: ``kind`` says what (see
    :class:`OverlayKind` for what ``points`` and the other fields mean for each).
    ``width`` is the pen width and ``point_size`` the marker diameter, both in screen pixels.
    """

    kind: OverlayKind
    points: tuple[tuple[float, float], ...] = ()
    color: str = "#ffffff"
    width: float = 1.5
    dashed: bool = False
    fill_alpha: float = 0.0
    radius: float = 0.0
    point_size: float = 7.0
    hollow: bool = False
    mask: np.ndarray | None = None
    text: str = ""


Gesture = Generator[None, PointerEvent, None]


class OptionKind(StrEnum):
    """The control an :class:`Option` asks for (a ``str`` enum: ``kind == "size"`` holds)."""

    SIZE = "size"  # a number field of the editor state: slider + box, in ``unit``
    TOGGLE = "toggle"  # a bool field of the editor state
    ACTION = "action"  # a button calling ``run(tool)`` (the active tool)
    CHOICE = "choice"  # one of ``choices(tool)``: ``get(tool)`` shows it, ``put(tool, v)`` sets it
    NOTE = "note"  # a line of text, ``text(tool)`` (what the tool last said: device, time)


@dataclass(frozen=True)
class Option:
    """One control a tool declares for the options bar (Qt-free; the bar builds the widget):
    ``kind`` says which (:class:`OptionKind`). Tools that declare the same option share one
    control. ``only_active``: shown only while a tool declaring it is active (a tool's own
    group, e.g. segment anything's model and output), instead of shown disabled."""

    kind: OptionKind
    label: str
    tip: str = ""
    field: str = ""
    run: Callable[[Any], Any] | None = None
    minimum: float = 1.0
    maximum: float = 1000.0
    slider_max: float = 500.0  # the slider is logarithmic up to here; the box goes further
    unit: str = "px"
    choices: Callable[[Any], list[tuple[Any, str]]] | None = None  # (value, text), per tool
    get: Callable[[Any], Any] | None = None
    put: Callable[[Any, Any], None] | None = None
    text: Callable[[Any], str] | None = None
    only_active: bool = False

    @property
    def key(self) -> tuple[OptionKind, str]:
        """What makes two declarations the same control."""
        return (self.kind, self.field or self.label)


def options_of(tools: Any) -> list[Option]:
    """Every option the given tool classes declare, each once, in first-declared order."""
    seen: dict[tuple[OptionKind, str], Option] = {}
    for t in tools:
        for o in t.options:
            seen.setdefault(o.key, o)
    return list(seen.values())


class Tool:
    """Base class of all tools. Subclasses set the class attributes and override the hooks
    they need; most override :meth:`gesture` (press-drag-release in one generator)."""

    name: ClassVar[str] = "tool"
    label: ClassVar[str] = "Tool"
    shortcut: ClassVar[str] = ""
    #: Keys (names as in :class:`KeyEvent`) this tool claims before application shortcuts.
    keys: ClassVar[frozenset[str]] = frozenset({"Escape"})
    tooltip: ClassVar[str] = ""
    #: The keys the tool understands while active, as (keys, what they do), for the key sheet.
    key_help: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: Controls of the options bar this tool uses.
    options: ClassVar[tuple[Option, ...]] = ()
    #: A tool that makes new shapes with the active class (shown at the cursor; N picks it).
    draws: ClassVar[bool] = False

    def __init__(self, state: EditorState) -> None:
        self.state = state
        self.cursor: str = "arrow"  # 'arrow' | 'cross' | 'pointing' | 'size_all' | 'blank' ...
        self.hover_pos: tuple[float, float] | None = None
        self._gesture: Gesture | None = None
        self._unwatch: Callable[[], None] | None = None
        self._surface: Surface | None = None
        self._place: Place | None = None

    # ----------------------------------------------------------------- lifecycle
    def activate(self) -> None:
        """Called when the tool becomes active."""

    def deactivate(self) -> None:
        """Called when another tool takes over: drop anything unfinished."""
        self.cancel()

    def cancel(self) -> None:
        """Abandon the gesture or shape in progress (Escape)."""
        self.cancel_gesture_only()

    @property
    def busy(self) -> bool:
        """True while a gesture or multi-click shape is in progress."""
        return self._gesture is not None

    # ----------------------------------------------------------------- pointer
    def gesture(self, press: PointerEvent) -> Gesture | None:
        """Press-drag-release as one generator (see the module doc); None to ignore."""
        return None

    @property
    def surface(self) -> Surface:
        """The view of the tool's last pointer event (the window's before any, and once the
        window's surface that event was on is replaced: a video left, a project closed)."""
        if self._surface is not None and self.state.retired(self._surface):
            self._surface, self._place = None, None
        return self._surface if self._surface is not None else self.state.surface

    @property
    def pointer_place(self) -> Place | None:
        """Where the tool's pointer last was (the place a finished shape goes to)."""
        return self._place or self.state.place_on(self.surface)

    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height) in pixels of the picture under the tool's pointer."""
        return self.state.size_on(self.surface)

    def _enter(self, e: PointerEvent) -> None:
        """Take the event's view and place as the tool's (see :attr:`surface`)."""
        if e.surface is not self._surface:
            self._surface = e.surface
        self._place = e.place

    def press(self, e: PointerEvent) -> None:
        if self.elsewhere(e):
            self.cancel()  # a press on another pane starts afresh there
        self._enter(e)
        self.cancel_gesture_only()
        gen = self.gesture(e)
        if gen is None:
            return
        try:
            next(gen)
            self._gesture = gen
        except StopIteration:
            self._gesture = None
            return
        self._watch_edits(gen, self.pointer_place)

    def _watch_edits(self, gen: Gesture, place: Place | None) -> None:
        """Any edit of the gesture's media item made while it runs (Delete, Ctrl+Z, a class
        key, the object list, a job) ends the gesture first: what it copied at its press is
        stale, and committing it on release would undo that edit."""
        self._stop_watching()
        doc = self.state.doc
        if doc is None:
            return
        media = place.media_id if place is not None else None

        def edited(changes: list[Change]) -> None:
            if self._gesture is not gen:
                self._stop_watching()
            elif any(c.kind in _CONTENT_CHANGES and (c.kind in _EVERYWHERE
                                                     or media in c.media_ids)
                     for c in changes):
                self.cancel_gesture_only()

        self._unwatch = doc.subscribe(edited)

    def _stop_watching(self) -> None:
        unwatch, self._unwatch = self._unwatch, None
        if unwatch is not None:
            unwatch()

    def elsewhere(self, e: PointerEvent) -> bool:
        """Whether ``e`` is on another view than the shape in progress (a volume's other
        pane): such hovering is not this shape's."""
        here = e.surface if e.surface is not None else self.state.surface
        return self.busy and here is not self.surface

    def move(self, e: PointerEvent) -> None:
        if self.elsewhere(e):
            return
        if self._gesture is None:
            self._enter(e)
            self.hover_pos = e.pos
            self.hover(e)
            return
        self.hover_pos = e.pos
        try:
            self._gesture.send(e)
        except StopIteration:
            self._gesture = None
            self._stop_watching()

    def release(self, e: PointerEvent) -> None:
        if self._gesture is None:
            return
        gen, self._gesture = self._gesture, None
        self._stop_watching()
        try:
            gen.send(e)
        except StopIteration:
            return
        gen.close()

    def double_click(self, e: PointerEvent) -> None:
        """Default: a double click is a second press."""
        self.press(e)

    def hover(self, e: PointerEvent) -> None:
        """Pointer moved with no gesture running."""

    def leave(self) -> None:
        """Pointer left the view."""
        self.hover_pos = None

    def cancel_gesture_only(self) -> None:
        self._stop_watching()
        if self._gesture is not None:
            gen, self._gesture = self._gesture, None
            gen.close()

    # ----------------------------------------------------------------- keys
    def key(self, e: KeyEvent) -> bool:
        """Handle a key press; return True when used (the view then stops it)."""
        if e.key == "Escape" and self.busy:
            self.cancel()
            return True
        return False

    def wants_key(self, e: KeyEvent) -> bool:
        """Whether the view should give this key to the tool before application shortcuts
        (Qt's ShortcutOverride). Default: the keys in :attr:`keys`, Escape only while busy."""
        return e.key in self.keys and (e.key != "Escape" or self.busy)

    def finish_shape(self) -> bool:
        """Finish the shape in progress (Enter, or N as in CVAT); False when there is none."""
        return False

    def handle_key(self, e: KeyEvent) -> bool:
        """What a view calls for every key: the tool's own :meth:`key` first; then N finishes
        the shape being drawn, and Escape, once nothing is being drawn, clears the selection
        (so a first Escape cancels the shape, a second one deselects)."""
        if self.key(e):
            return True
        if e.key == "N" and e.plain and self.busy:
            return self.finish_shape()
        if e.key == "Escape" and not self.busy and self.state.selection:
            self.state.select(())
            return True
        return False

    def claims(self, e: KeyEvent) -> bool:
        """Whether :meth:`handle_key` takes ``e`` before the window's shortcuts. A tool's
        keys are plain (Shift allowed): with Ctrl, Alt or Meta held (Ctrl+G, Ctrl+Z) the key
        is the window's, whatever the tool; Escape excepted."""
        if not e.plain and e.key != "Escape":
            return False
        if e.key == "Escape" and self.state.selection:
            return True
        if e.key == "N" and e.plain and self.busy:
            return True
        return self.wants_key(e)

    # ----------------------------------------------------------------- drawing
    def overlay(self) -> list[OverlayItem]:
        """What to preview this frame, in image coordinates."""
        return []

    def editing_ids(self) -> frozenset[str]:
        """Annotations the overlay currently stands in for (the view leaves them out)."""
        return frozenset()


    # ----------------------------------------------------------------- helpers
    def message(self, text: str) -> None:
        """Show a one-line status message."""
        self.state.message(text)

    def color(self) -> str:
        """The active class's colour (white when no class is active)."""
        cls = self.state.active_class()
        return cls.color if cls else "#ffffff"

    def clamp(self, x: float, y: float) -> tuple[float, float]:
        """``(x, y)`` clamped into the image rectangle [0, w] x [0, h]."""
        w, h = self.image_size
        if w <= 0 or h <= 0:
            return (x, y)
        return (min(max(x, 0.0), float(w)), min(max(y, 0.0), float(h)))

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<{type(self).__name__} {self.name}>"


def describe(tool_cls: type[Tool]) -> dict[str, Any]:
    """Name, label, shortcut and tooltip of a tool class (for toolbars and help)."""
    return {"name": tool_cls.name, "label": tool_cls.label, "shortcut": tool_cls.shortcut,
            "tooltip": tool_cls.tooltip}


class ClickTool(Tool):
    """A tool that builds a shape from several clicks: it keeps the points placed so far, is
    busy while it has any, and claims its keys (plus Escape) only then."""

    def __init__(self, state: EditorState) -> None:
        super().__init__(state)
        self.cursor = "cross"
        self.points: list[tuple[float, float]] = []

    @property
    def busy(self) -> bool:
        return bool(self.points) or self._gesture is not None

    def cancel(self) -> None:
        super().cancel()
        self.points = []

    def wants_key(self, e: KeyEvent) -> bool:
        return e.key == "Escape" or (self.busy and e.key in self.keys)
