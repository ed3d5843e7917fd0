"""Vertex tool: edit the vertices of polygons, polylines and keypoints (image pixels).

Drag a vertex to move it; click on an edge to insert a vertex there (and drag it); right-click
a vertex, or press Delete/Backspace while hovering it, to delete it. Works on the selected
shapes, or on any visible shape when nothing editable is selected; clicking elsewhere selects
the shape under the pointer.
"""

from __future__ import annotations

from app.core.annotations import Annotation
from app.core.commands import Put
from app.core.shapes import Keypoints, Polygon, Polyline, Shape
from app.tools.base import (Button, EventType, Gesture, KeyEvent, OverlayItem, OverlayKind,
                            PointerEvent, Tool)
from app.tools.geometry import (VertexRef, delete_vertex, insert_vertex, move_vertex,
                                nearest_edge, nearest_vertex, ring_area, rings, topmost_at)
from app.tools.preview import shape_overlay

EDITABLE = (Polygon, Polyline, Keypoints)


class VertexTool(Tool):
    name = "vertex"
    label = "Edit vertices"
    shortcut = "A"
    tooltip = ("Drag vertices; click an edge to insert one; right-click or Delete removes "
               "the vertex under the pointer (A)")
    keys = frozenset({"Escape", "Delete", "Backspace"})
    key_help = (("Drag a vertex", "move it"), ("Click an edge", "insert a vertex there"),
                ("Right-click, Delete", "remove the vertex under the pointer"))

    def __init__(self, state) -> None:
        super().__init__(state)
        self.hot: tuple[str, VertexRef] | None = None  # vertex under the pointer
        self.edge: tuple[str, VertexRef, tuple[float, float]] | None = None  # insert point
        self._editing: Annotation | None = None
        self._shape: Shape | None = None

    # ------------------------------------------------------------------ targets
    def targets(self) -> list[Annotation]:
        """Shapes whose vertices can be edited now, topmost first."""
        sel = [a for a in self.state.selected_visible(self.surface)
               if isinstance(a.shape, EDITABLE) and not self.state.is_locked(a)]
        if sel:
            return sel[::-1]
        return [a for a in self.state.visible_annotations(self.surface)[::-1]
                if isinstance(a.shape, EDITABLE) and not self.state.is_locked(a)]

    def _find(self, e: PointerEvent) -> None:
        self.hot, self.edge = None, None
        tol = e.tolerance()
        anns = self.targets()
        for a in anns:
            ref = nearest_vertex(a.shape, e.x, e.y, tol)
            if ref is not None:
                self.hot = (a.id, ref)
                return
        for a in anns:
            found = nearest_edge(a.shape, e.x, e.y, tol)
            if found is not None:
                self.edge = (a.id, found[0], found[1])
                return

    def _ann(self, ann_id: str) -> Annotation | None:
        doc, media = self.state.doc, self.pointer_place
        return self.state.annotation(ann_id, self.surface) if doc is not None and media else None

    def hover(self, e: PointerEvent) -> None:
        self._find(e)
        self.cursor = "pointing" if self.hot else ("cross" if self.edge else "arrow")

    # ------------------------------------------------------------------ gestures
    def gesture(self, press: PointerEvent) -> Gesture | None:
        self._find(press)
        if press.button is Button.RIGHT:
            if self.hot:
                self.delete_hot()
            return None
        if press.button is not Button.LEFT:
            return None
        if self.hot:
            ann = self._ann(self.hot[0])
            return self._drag(ann, self.hot[1], ann.shape) if ann else None
        if self.edge:
            ann = self._ann(self.edge[0])
            if ann is None:
                return None
            shape, ref = insert_vertex(ann.shape, self.edge[1], self.clamp(*self.edge[2]))
            return self._drag(ann, ref, shape)
        under = topmost_at(self.state.visible_annotations(self.surface), press.x, press.y,
                           press.tolerance(4.0))
        self.state.select((under.id,) if under else ())
        return None

    def _drag(self, ann: Annotation, ref: VertexRef, shape: Shape) -> Gesture:
        """Drag vertex ``ref`` of ``shape`` (``ann``'s shape, maybe with a vertex inserted)."""
        self._editing, self._shape = ann, shape
        e = yield
        try:
            while e.type is EventType.MOVE:
                self._shape = move_vertex(shape, ref, self.clamp(*e.pos))
                e = yield
        finally:
            self._editing = None
            final, self._shape = self._shape, None
        if final is None or final == ann.shape:
            return
        if isinstance(final, Polygon) and ring_area(final.exterior) == 0:
            self.message("That would leave the polygon with no area; the vertex stays.")
            return
        label = "Insert vertex" if len(rings(shape)[ref[0]]) != len(rings(ann.shape)[ref[0]]) \
            else "Move vertex"
        self.state.execute(Put((self.state.doc.edited(ann, shape=final),),
                                             label=label), self.surface)

    def delete_hot(self) -> bool:
        """Delete the vertex under the pointer; True when one was deleted."""
        if self.hot is None:
            return False
        ann = self._ann(self.hot[0])
        if ann is None:
            return False
        shape = delete_vertex(ann.shape, self.hot[1])
        self.hot = None
        if shape is None:
            self.message(f"A {ann.kind} cannot lose more vertices; delete the shape instead.")
            return True
        self.state.execute(Put((self.state.doc.edited(ann, shape=shape),),
                                             label="Delete vertex"), self.surface)
        return True

    def key(self, e: KeyEvent) -> bool:
        if e.key in ("Delete", "Backspace") and e.plain and self.hot and not self.busy:
            return self.delete_hot()
        return super().key(e)

    def wants_key(self, e: KeyEvent) -> bool:
        return e.key == "Escape" and self.busy or (e.key in ("Delete", "Backspace") and
                                                   self.hot is not None)

    # ------------------------------------------------------------------ drawing
    def editing_ids(self) -> frozenset[str]:
        return frozenset({self._editing.id}) if self._editing else frozenset()

    def overlay(self) -> list[OverlayItem]:
        items: list[OverlayItem] = []
        color = self.state.class_color
        if self._editing is not None and self._shape is not None:
            items += shape_overlay(self._shape, color(self._editing.class_id), width=2.0)
            shapes = [self._shape]
        else:
            shapes = [a.shape for a in self.targets()[:50]] if self.state.selection else []
            if self.hot or self.edge:
                a = self._ann((self.hot or self.edge)[0])
                if a is not None and a.shape not in shapes:
                    shapes.append(a.shape)
        for shape in shapes:
            for k, ring in enumerate(rings(shape)):
                pts = ring if not isinstance(shape, Keypoints) else [
                    (x, y) for (x, y), p in zip(ring, shape.points) if p[2]]
                items.append(OverlayItem(OverlayKind.POINTS, tuple(pts), "#ffffff", width=1.0,
                                         point_size=7.0))
        if self.hot is not None and self._editing is None:
            a = self._ann(self.hot[0])
            if a is not None:
                k, i = self.hot[1]
                items.append(OverlayItem(OverlayKind.POINTS, (rings(a.shape)[k][i],), "#ffd400",
                                         point_size=12.0, hollow=True, width=2.0))
        elif self.edge is not None and self._editing is None:
            items.append(OverlayItem(OverlayKind.POINTS, (self.edge[2],), "#ffd400", point_size=8.0,
                                     hollow=True, width=2.0))
        return items
