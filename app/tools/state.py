"""Editor state shared by the canvas, the tools and the panels; observable and free of Qt.

Holds *where* the user is (document, :class:`~app.core.places.Place`, picture size in pixels, the
window's :class:`~app.tools.surface.Surface`) and *what* they work with (active class, selection, brush radius in image pixels, clipboard, hidden ids,
classes hidden or locked in this view). ``refusal`` is the one sentence saying why nothing can
be drawn or pasted here (no picture, a mode still to come); ``read_only`` why nothing may be
edited at all (another window edits the project); both empty when editing is allowed. Listeners
get the name of each field that changed; ``'status'`` carries one-line messages.

One state per window, shared by every view: what depends on the view (its place, picture size,
what is shown and how an edit is ruled) comes from a surface, passed to the reading and editing
methods (``surface=None``: the window's own, :attr:`surface`). A pointer event carries the
surface it happened on; tools pass it on.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from app.core.annotations import Annotation
from app.core.commands import Command
from app.core.document import Document
from app.core.errors import VellumError
from app.core.identity import author, new_id, utc_now
from app.core.places import Place
from app.core.schema import LabelClass
from app.core.shapes import Shape
from app.tools.surface import Surface

StateListener = Callable[[str], None]

_FIELDS: dict[str, Any] = {
    "doc": None,
    "place": None,
    "image_size": (0, 0),
    "class_id": None,
    "selection": (),
    "selection_drawn": False,
    "brush_radius": 10.0,
    "brush_mm": 0.0,
    "paint_inside": False,
    "clipboard": (),
    "hidden": frozenset(),
    "hidden_classes": frozenset(),
    "locked_classes": frozenset(),
    "refusal": "",
    "read_only": "",
    "status": "",
    "surface": None,
}
_SETS = ("hidden", "hidden_classes", "locked_classes")


class EditorState:
    """Observable fields (see module doc); change them with :meth:`set`."""

    doc: Document | None
    place: Place | None  # the media item, video frame or volume slice on the canvas
    image_size: tuple[int, int]  # (width, height) in image pixels
    class_id: str | None
    selection: tuple[str, ...]
    # the selection is what a tool just drew, not what the user picked: a class key then
    # chooses the class of the next shape and leaves it alone (CVAT's way); see select_drawn
    selection_drawn: bool
    brush_radius: float  # image pixels
    brush_mm: float  # millimetres per brush_radius unit on a volume; 0 elsewhere
    paint_inside: bool  # brush/eraser constrained to the selected object
    clipboard: tuple[Annotation, ...]
    hidden: frozenset[str]  # annotation ids hidden in this session (view only)
    hidden_classes: frozenset[str]  # class ids whose shapes are hidden (view only)
    locked_classes: frozenset[str]  # class ids whose shapes cannot be edited (view only)
    refusal: str  # why drawing is refused here ("" when it is allowed)
    read_only: str  # why the project may not be edited in this view ("" when it may)
    status: str
    surface: Surface  # the window's canvas surface (a mode may install its own)

    def __init__(self, doc: Document | None = None, **fields: Any) -> None:
        for name, default in _FIELDS.items():
            object.__setattr__(self, name, default)
        self._listeners: list[StateListener] = []
        self._retired: weakref.WeakSet[Surface] = weakref.WeakSet()
        object.__setattr__(self, "surface", Surface())
        self.doc = doc
        self.set(**fields)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FIELDS and hasattr(self, "_listeners"):
            self.set(**{name: value})
        else:
            object.__setattr__(self, name, value)

    # ----------------------------------------------------------------- observing
    def subscribe(self, fn: StateListener) -> Callable[[], None]:
        """Call ``fn(field_name)`` after each change; returns an unsubscribe function."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def set(self, **changes: Any) -> None:
        """Change fields and notify listeners of each one that really changed."""
        changed = []
        if "selection" in changes and not changes["selection"]:
            changes.setdefault("selection_drawn", False)  # nothing selected, nothing drawn
        for name, value in changes.items():
            if name not in _FIELDS:
                raise AttributeError(f"EditorState has no field {name!r}")
            if name == "selection":
                value = tuple(value)
            elif name in _SETS:
                value = frozenset(value)
            elif name == "brush_radius":
                value = float(min(max(value, 0.5), 1000.0))
            elif name == "surface" and value is None:
                value = Surface()
            if getattr(self, name) != value or name == "status":
                if name == "surface":
                    self._retired.add(self.surface)
                    self._retired.discard(value)
                object.__setattr__(self, name, value)
                changed.append(name)
        for name in changed:
            for fn in list(self._listeners):
                fn(name)

    def retired(self, surface: Surface) -> bool:
        """Whether ``surface`` was the window's surface and was replaced since (a video
        left, a project closed): a tool that last worked there works on the window's now."""
        return surface in self._retired

    def message(self, text: str) -> None:
        """Publish a one-line status message (field ``'status'``)."""
        self.set(status=text)

    # ----------------------------------------------------------------- reading
    @property
    def media_id(self) -> str | None:
        return self.place.media_id if self.place is not None else None

    @property
    def frame(self) -> int | None:
        """Video frame index of the current place (None off video)."""
        return self.place.frame if self.place is not None else None

    def view(self, surface: Surface | None = None) -> Surface:
        """``surface``, or the window's own when None."""
        return surface if surface is not None else self.surface

    def place_on(self, surface: Surface | None = None) -> Place | None:
        """The place ``surface`` shows (the window's current place when it follows it)."""
        s = self.view(surface)
        return s.place if s.place is not None else self.place

    def size_on(self, surface: Surface | None = None) -> tuple[int, int]:
        """The picture size (width, height) in pixels of ``surface``."""
        s = self.view(surface)
        return s.image_size if s.image_size is not None else self.image_size

    def annotations(self, surface: Surface | None = None) -> list[Annotation]:
        """Annotations shown on ``surface`` (default: the window's), in z order."""
        place = self.place_on(surface)
        if self.doc is None or place is None:
            return []
        return self.view(surface).shown(self.doc, place)

    def annotation(self, annotation_id: str, surface: Surface | None = None
                   ) -> Annotation | None:
        """The annotation with this id as shown on ``surface`` (an interpolated track shape
        included), else the stored one of that surface's media item."""
        place = self.place_on(surface)
        if self.doc is None or place is None:
            return None
        if not self.view(surface).shows_stored:
            found = next((a for a in self.annotations(surface) if a.id == annotation_id), None)
            if found is not None:
                return found
        return self.doc.annotation(place.media_id, annotation_id)

    def visible_annotations(self, surface: Surface | None = None) -> list[Annotation]:
        """:meth:`annotations` without hidden ones (flag, session-hidden, or class hidden)."""
        return [a for a in self.annotations(surface) if not self.is_hidden(a)]

    def is_hidden(self, a: Annotation) -> bool:
        """Hidden by its flag, in this session, or with its whole class."""
        return a.hidden or a.id in self.hidden or a.class_id in self.hidden_classes

    def is_locked(self, a: Annotation) -> bool:
        """Locked by its flag or with its whole class: it cannot be moved, edited or deleted."""
        return a.locked or a.class_id in self.locked_classes

    def selected_visible(self, surface: Surface | None = None) -> list[Annotation]:
        """:meth:`selected` without hidden shapes (those show no handles)."""
        return [a for a in self.selected(surface) if not self.is_hidden(a)]

    def can_draw(self, surface: Surface | None = None) -> bool:
        """Whether shapes may be drawn or pasted here; otherwise says why (status message)."""
        for reason in (self.read_only, self.refusal):
            if reason:
                self.message(reason)
                return False
        if self.place_on(surface) is None:
            self.message("No image is open to annotate.")
            return False
        return True

    def selected(self, surface: Surface | None = None) -> list[Annotation]:
        """The selected annotations that still exist (as shown on ``surface``), in selection
        order."""
        place = self.place_on(surface)
        if self.doc is None or place is None:
            return []
        here = {} if self.view(surface).shows_stored else {
            a.id: a for a in self.annotations(surface)}
        out = []
        for i in self.selection:
            a = here.get(i) or self.doc.annotation(place.media_id, i)
            if a is not None:
                out.append(a)
        return out

    def active_class(self) -> LabelClass | None:
        if self.doc is None:
            return None
        return self.doc.schema.class_by_id(self.class_id)

    def class_color(self, class_id: str | None) -> str:
        """Colour of a class (``#rrggbb``); grey for unclassified shapes."""
        cls = self.doc.schema.class_by_id(class_id) if self.doc is not None else None
        return cls.color if cls else "#c8c8c8"

    # ----------------------------------------------------------------- editing
    def new_annotation(self, shape: Shape, surface: Surface | None = None,
                       **fields: Any) -> Annotation:
        """An annotation of ``shape`` at ``fields['place']`` (default: where ``surface`` is)
        with the active class, its default attributes and a z above everything there."""
        place = fields.pop("place", None) or self.place_on(surface)
        if place is None:
            raise VellumError("No image is open to annotate.")
        cls = self.active_class()
        here = self.view(surface).shown(self.doc, place) if self.doc is not None else []
        z = max((a.z for a in here), default=-1) + 1
        values: dict[str, Any] = dict(place=place, shape=shape,
                                      class_id=cls.id if cls else None, z=z,
                                      attributes=cls.default_attributes() if cls else {})
        values.update(fields)
        return Annotation(**values)

    def add_drawn(self, shape: Shape, label: str, place: Place | None = None,
                  surface: Surface | None = None, **fields: Any) -> Annotation | None:
        """The one way a drawing tool adds what it drew at ``place`` (default: where
        ``surface`` is): the surface turns it into a command (a new annotation; a video's
        makes a track keyframe), committed as one undoable step. Returns the stored
        annotation, or None when refused (the status bar says why)."""
        where = place or self.place_on(surface)
        if where is None:
            self.message("No image is open to annotate.")
            return None
        return self.view(surface).add_drawn(self, shape, label, where, fields)

    def allows(self, kind: str) -> bool:
        """Whether the active class accepts ``kind`` shapes (messages the user if not)."""
        cls = self.active_class()
        if cls is not None and not cls.allows(kind):
            self.message(f"Class {cls.name!r} does not allow {kind.replace('_', ' ')} shapes.")
            return False
        return True

    def execute(self, command: Command, surface: Surface | None = None,
                rewrite: bool = True) -> bool:
        """Run ``command`` on the document (commits to disk), through ``surface``'s rule
        (:meth:`Surface.rewrite`; ``rewrite=False``: already in the mode's terms). Problems
        become a status message and ``False``; nothing is raised to the view."""
        if self.doc is None:
            self.message("No project is open.")
            return False
        if self.read_only:
            self.message(self.read_only)
            return False
        try:
            if rewrite:
                command = self.view(surface).rewrite(command)
                if command is None:
                    return False
            self.doc.execute(command)
        except (VellumError, ValueError) as exc:
            self.message(str(exc))
            return False
        return True

    def select(self, ids: tuple[str, ...] | list[str]) -> None:
        """Select ``ids`` as the user's choice (a click, the object list, Ctrl+A, a paste):
        a class key then relabels them."""
        self.set(selection=tuple(ids), selection_drawn=False)

    def select_drawn(self, ids: tuple[str, ...] | list[str]) -> None:
        """Select what a tool just drew (handles and attributes show), without making it the
        user's choice: a class key picks the class of the next shape instead of relabelling
        it, so "draw, pick the next class, draw" never relabels earlier shapes."""
        self.set(selection=tuple(ids), selection_drawn=bool(ids))


def copied(a: Annotation, **changes: Any) -> Annotation:
    """A fresh copy of ``a`` (new id, now as created time, current author) with ``changes``."""
    now = utc_now()
    values: dict[str, Any] = {"id": new_id(), "created": now, "modified": now,
                              "creator": author(), "track_id": None}
    values.update(changes)
    return replace(a, **values)
