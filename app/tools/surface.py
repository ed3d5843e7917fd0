"""Surfaces: what a pointer is over, handed to tools on every :class:`PointerEvent`.

One surface per view that shows a picture (the main canvas, each pane of a volume), as 3D
Slicer's effects get their view widget. A surface says

- *where* it is: its :class:`~app.core.places.Place` and picture size in pixels (``None``:
  the editor's own, for the window's canvas, which follows the image or frame shown);
- *what* is shown there: the picture (a plane source with its pixel ↔ world transform,
  :meth:`picture`, :meth:`to_world`) and the annotations (:meth:`shown`: a video's surface adds
  the interpolated shapes of its tracks);
- *what may be edited* there and how: shapes (:meth:`add_drawn` turns a drawn shape into a
  command, :meth:`rewrite` a mode's rule on any edit, e.g. an edited interpolated shape
  becomes a keyframe), a label map (:meth:`labelmap`: which map and segment a stroke paints),
  the linked crosshair (:meth:`move_crosshair`), and where long work runs (:meth:`run_off_ui`).

The base class is a plain picture (a photo): nothing is rewritten, no label map, no crosshair.
Video and volume modes subclass it (``app.tools.track_surface``, ``app.tools.volume_surface``);
tools never ask which kind they got. Qt-free.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from app.core.annotations import Annotation
from app.core.commands import Command, Put
from app.core.places import Place
from app.core.shapes import Shape

if TYPE_CHECKING:
    from app.core.document import Document
    from app.io.planes import PlaneSource
    from app.tools.paint import LabelMapPaint
    from app.tools.state import EditorState


class Surface:
    """A picture a pointer can be over (see the module doc). ``place`` / ``image_size`` of
    ``None`` follow the editor state's (the window's canvas); a pane sets its own.
    ``mm_per_px``: millimetres per picture pixel of its finer side (0: a photo, sizes in px)."""

    #: :meth:`shown` gives the stored annotations of a place (False: it adds others).
    shows_stored: bool = True

    def __init__(self, place: Place | None = None, image_size: tuple[int, int] | None = None,
                 mm_per_px: float = 0.0) -> None:
        self.place = place
        self.image_size = image_size
        self.mm_per_px = mm_per_px
        self.source: PlaneSource | None = None  # the picture shown (None: none yet)

    # ------------------------------------------------------------------ what is shown
    def picture(self, place: Place) -> PlaneSource | None:
        """The picture at ``place`` (for tools that need the pixels: segment anything), or
        None when this surface does not show that place."""
        src = self.source
        return src if src is not None and src.place == place else None

    def to_world(self, x: float, y: float) -> np.ndarray | None:
        """Picture point (continuous px) → patient point (mm, LPS), None off a volume."""
        return self.source.to_world(x, y) if self.source is not None else None

    def shown(self, doc: Document, place: Place) -> list[Annotation]:
        """The annotations shown at ``place`` in z order (here: the stored ones)."""
        return doc.annotations(place)

    # ------------------------------------------------------------------ editing
    def add_drawn(self, state: EditorState, shape: Shape, label: str, place: Place,
                  fields: dict[str, Any]) -> Annotation | None:
        """What a drawn ``shape`` becomes, committed as one undoable step (here: a new
        annotation of the active class); None when refused (the status bar says why)."""
        ann = state.new_annotation(shape, place=place, surface=self, **fields)
        return ann if state.execute(Put((ann,), label=label), surface=self) else None

    def rewrite(self, command: Command) -> Command | None:
        """A mode's rule applied to every edit made here (None: refused; here: unchanged)."""
        return command

    def labelmap(self, place: Place, create: bool = True) -> LabelMapPaint | None:
        """The label map and segment a stroke at ``place`` paints (``create``: make the
        segment when there is none yet), or None: strokes paint mask annotations."""
        return None

    def move_crosshair(self, place: Place, x: float, y: float) -> bool:
        """Move a linked crosshair to picture point (x, y) of ``place``; False: none here."""
        return False

    def run_off_ui(self, label: str, work: Callable[[], Any],
                   done: Callable[[Any], None]) -> None:
        """``done(work())``, ``work`` off the UI thread where the view offers one (here:
        inline, as in tests and scripts); ``work`` may only read."""
        done(work())
