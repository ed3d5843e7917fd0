"""The video mode's keys (CVAT's, where the window leaves them free) and the Space tap.

CVAT plays with Space, steps 10 frames with V / C and sets keyframes with K. In Vellum V is
the select tool and K the keypoints tool, and Space+drag pans the canvas, so:

- F / D: next / previous frame (the window's keys; the presenter takes them on video);
- Shift+F / Shift+D: 10 frames on / back (CVAT's V / C); . / ,: next / previous keyframe;
  Alt+. / Alt+,: next / previous frame where the selected track enters or leaves the view;
- Space **tapped** (pressed and released without dragging): play / pause; Space+drag still pans;
- Shift+K: keyframe on / off (CVAT's K); O: outside (as CVAT); Q: occluded (as CVAT);
- M: make the selected frame range an event (CVAT's M merges; here Shift+M merges two
  tracks, and Ctrl+Shift+M splits the selected track at the frame shown: CVAT's Alt+M is
  the Media menu's mnemonic here);
  Ctrl+G: the jump box; Ctrl+Shift+P: propagate;
  Ctrl+T: draw as track / as single-frame shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt

TAP_S = 0.6  # a Space held longer than this (without dragging) is not a tap

# (key, what it does, the presenter's method: its name, or actions.NAME for one of its
# TrackActions)
KEYS: tuple[tuple[str, str, str], ...] = (
    ("Shift+F", "10 frames on", "forward_10"),
    ("Shift+D", "10 frames back", "back_10"),
    (".", "Next keyframe (of the selected track, else of any track)", "next_keyframe"),
    (",", "Previous keyframe (of the selected track, else of any track)", "previous_keyframe"),
    ("Alt+.", "Next frame the selected track enters or leaves the view",
     "next_outside_change"),
    ("Alt+,", "Previous frame the selected track enters or leaves the view",
     "previous_outside_change"),
    ("Space", "Play / pause (a tap; Space+drag still pans)", "toggle_play"),
    ("Shift+K", "Keyframe on / off for the selected track", "actions.toggle_keyframe"),
    ("O", "Outside: the object leaves the view from this frame (again: back in view)",
     "actions.toggle_outside"),
    ("Q", "Occluded on this frame (until the next keyframe)", "actions.toggle_occluded"),
    ("M", "Make the selected frame range an event of the active class", "actions.make_event"),
    ("Shift+M", "Merge two tracks (their shapes, or Ctrl+click in the track list) into the "
     "first", "actions.merge_tracks"),
    ("Ctrl+Shift+M", "Split the selected track at this frame (a new track from here)",
     "actions.split_track"),
    ("Ctrl+G", "Go to a frame or a time (the jump box)", "focus_jump"),
    ("Ctrl+Shift+P", "Propagate the selected shape to the next frames", "actions.propagate"),
    ("Ctrl+T", "Draw as track / as a single-frame shape", "toggle_as_track"),
)


class SpaceTap(QObject):
    """Event filter on the canvas: a Space tap calls ``tap()``; a mouse press (a Space+drag
    pan, or drawing) calls ``pressed()``. Events go on to the canvas unchanged."""

    def __init__(self, tap: Callable[[], None], pressed: Callable[[], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tap, self._pressed = tap, pressed
        self._down: float | None = None
        self._dragged = False

    def eventFilter(self, obj: QObject, e: QEvent) -> bool:  # noqa: N802
        kind = e.type()
        if kind == QEvent.Type.KeyPress and e.key() == Qt.Key.Key_Space:
            if not e.isAutoRepeat():
                self._down, self._dragged = time.monotonic(), False
        elif kind == QEvent.Type.KeyRelease and e.key() == Qt.Key.Key_Space:
            if not e.isAutoRepeat() and self._down is not None:
                quick = time.monotonic() - self._down <= TAP_S
                tapped = quick and not self._dragged
                self._down = None
                if tapped:
                    self._tap()
        elif kind == QEvent.Type.MouseButtonPress:
            self._dragged = True
            self._pressed()
        elif kind == QEvent.Type.FocusOut:
            self._down = None
        return False
