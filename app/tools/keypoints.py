"""Keypoints tool: place the active class's skeleton points one after another.

Each click places the next named point (visible, v=2; Shift+click or ``O`` first: occluded,
v=1). ``S`` skips the current point (not labelled, v=0). Backspace steps back, Escape cancels,
Enter (or N, as in CVAT) commits early (remaining points v=0). The annotation is added when the last point is
placed. Coordinates are image pixels (a click on pixel (c, r)'s centre gives (c+0.5, r+0.5)).
"""

from __future__ import annotations

from app.core.schema import Skeleton
from app.core.shapes import Keypoints
from app.tools.base import (Button, Gesture, KeyEvent, Mod, OverlayItem, OverlayKind, PointerEvent,
                            Tool)

KeyPoint = tuple[float, float, int]


class KeypointsTool(Tool):
    name = "keypoints"
    label = "Keypoints"
    shortcut = "K"
    tooltip = ("Click each skeleton point in turn; O or Shift+click: occluded, S: skip, "
               "Enter or N: finish (K)")
    keys = frozenset({"Escape", "Return", "Enter", "Backspace", "O", "S"})
    draws = True
    key_help = (("Click", "place the next named point"),
                ("O, Shift+click", "the next point is occluded"),
                ("S", "skip the next point (not visible)"),
                ("Enter, N", "finish early (the rest not visible)"),
                ("Backspace", "step back"), ("Esc", "cancel the keypoints being placed"))

    def __init__(self, state) -> None:
        super().__init__(state)
        self.cursor = "cross"
        self.placed: list[KeyPoint] = []
        self.occluded_next = False

    # ------------------------------------------------------------------ state
    def skeleton(self) -> Skeleton | None:
        cls = self.state.active_class()
        return cls.skeleton if cls else None

    @property
    def busy(self) -> bool:
        return bool(self.placed)

    def cancel(self) -> None:
        super().cancel()
        self.placed = []
        self.occluded_next = False

    def activate(self) -> None:
        self._prompt()

    def _prompt(self) -> None:
        sk = self.skeleton()
        if sk is None:
            self.message("The active class has no skeleton: choose a class with keypoints.")
            return
        i = len(self.placed)
        if i < len(sk.points):
            how = " (occluded)" if self.occluded_next else ""
            self.message(f"Place {sk.points[i]!r}{how}: point {i + 1} of {len(sk.points)}.")

    # ------------------------------------------------------------------ input
    def gesture(self, press: PointerEvent) -> Gesture | None:
        if press.button is Button.LEFT:
            self.place(press.pos, occluded=bool(press.modifiers & Mod.SHIFT))
        return None

    def place(self, pos: tuple[float, float], occluded: bool = False) -> None:
        """Place the current point at ``pos`` (image px) and advance."""
        sk = self.skeleton()
        if sk is None:
            self._prompt()
            return
        if not self.placed and not self.state.allows("keypoints"):
            return
        x, y = self.clamp(*pos)
        v = 1 if (occluded or self.occluded_next) else 2
        self.placed.append((x, y, v))
        self.occluded_next = False
        self._advance(sk)

    def skip(self) -> None:
        """Mark the current point not labelled (v=0) and advance."""
        sk = self.skeleton()
        if sk is None:
            return
        self.placed.append((0.0, 0.0, 0))
        self.occluded_next = False
        self._advance(sk)

    def _advance(self, sk: Skeleton) -> None:
        if len(self.placed) >= len(sk.points):
            self.finish()
        else:
            self._prompt()

    def finish(self) -> None:
        sk = self.skeleton()
        placed, self.placed = self.placed, []
        self.occluded_next = False
        if sk is None or not any(v for _, _, v in placed):
            self._prompt()
            return
        pts = placed + [(0.0, 0.0, 0)] * (len(sk.points) - len(placed))
        ann = self.state.add_drawn(Keypoints(tuple(pts)), "Place keypoints", self.pointer_place, self.surface)
        if ann is not None:
            self.state.select_drawn((ann.id,))
        self._prompt()

    def key(self, e: KeyEvent) -> bool:
        if not e.plain:
            return False
        if e.key == "O" and self.skeleton() is not None:
            self.occluded_next = not self.occluded_next
            self._prompt()
            return True
        if e.key == "S" and self.skeleton() is not None:
            self.skip()
            return True
        if e.key in ("Return", "Enter") and self.placed:
            self.finish()
            return True
        if e.key == "Backspace" and self.placed:
            self.placed.pop()
            self._prompt()
            return True
        if e.key == "Escape" and self.placed:
            self.cancel()
            self._prompt()
            return True
        return False

    def finish_shape(self) -> bool:
        if not self.placed:
            return False
        self.finish()
        return True

    def wants_key(self, e: KeyEvent) -> bool:
        if e.key in ("O", "S"):
            return self.skeleton() is not None and e.plain
        return e.key == "Escape" or (self.busy and e.key in self.keys)

    # ------------------------------------------------------------------ drawing
    def overlay(self) -> list[OverlayItem]:
        sk = self.skeleton()
        if sk is None:
            return []
        color = self.color()
        items: list[OverlayItem] = []
        for a, b in sk.edges:
            if a < len(self.placed) and b < len(self.placed) and self.placed[a][2] and \
                    self.placed[b][2]:
                items.append(OverlayItem(OverlayKind.POLYLINE,
                                         (self.placed[a][:2], self.placed[b][:2]),
                                         color, width=1.5))
        vis = tuple(p[:2] for p in self.placed if p[2] == 2)
        occ = tuple(p[:2] for p in self.placed if p[2] == 1)
        if vis:
            items.append(OverlayItem(OverlayKind.POINTS, vis, color, point_size=8.0))
        if occ:
            items.append(OverlayItem(OverlayKind.POINTS, occ, color, point_size=8.0, hollow=True))
        i = len(self.placed)
        if self.hover_pos is not None and i < len(sk.points):
            x, y = self.hover_pos
            items.append(OverlayItem(OverlayKind.POINTS, ((x, y),), color, point_size=8.0,
                                     hollow=self.occluded_next))
            items.append(OverlayItem(OverlayKind.TEXT, ((x, y),), color,
                                     text=f"{sk.points[i]}{' (occluded)' if self.occluded_next else ''}"))
        return items
