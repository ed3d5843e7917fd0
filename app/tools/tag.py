"""Tag tool: label the whole image (or video frame, or slice) with the active class, as
CVAT's tags and labelme's flags do. A click on the picture, or Enter, adds the tag; the same
again removes it. Tags have no geometry; the canvas lists them at its top-left corner and the
object list shows them with their attributes.
"""

from __future__ import annotations

from app.core.commands import Put, Remove
from app.core.shapes import Tag
from app.tools.base import Button, Gesture, KeyEvent, PointerEvent, Tool


class TagTool(Tool):
    name = "tag"
    label = "Tag image"
    shortcut = "I"
    tooltip = ("Tag the whole image with the active class: click the image or press Enter; "
               "again removes the tag (I)")
    keys = frozenset({"Return", "Enter"})
    draws = True
    key_help = (("Click, Enter", "tag the image with the active class (again: untag)"),)

    def __init__(self, state) -> None:
        super().__init__(state)
        self.cursor = "pointing"

    def gesture(self, press: PointerEvent) -> Gesture | None:
        if press.button is Button.LEFT:
            self.toggle()
        return None

    def key(self, e: KeyEvent) -> bool:
        if e.key in ("Return", "Enter") and e.plain:
            self.toggle()
            return True
        return super().key(e)

    def wants_key(self, e: KeyEvent) -> bool:
        return e.key in self.keys and e.plain

    def toggle(self) -> bool:
        """Add the active class's tag here, or remove it when already there; True if done."""
        state = self.state
        cls = state.active_class()
        if not state.can_draw():
            return False
        if cls is None:
            self.message("Choose a class to tag the image with (1-9 or the Labels panel).")
            return False
        if not state.allows("tag"):
            return False
        here = [a for a in state.annotations() if isinstance(a.shape, Tag)
                and a.class_id == cls.id]
        if here:
            done = state.execute(Remove(tuple(here), label=f"Untag {cls.name}"))
            if done:
                self.message(f"Removed the tag {cls.name!r} from this image.")
            return done
        ann = state.new_annotation(Tag())
        if state.execute(Put((ann,), label=f"Tag {cls.name}")):
            state.select_drawn((ann.id,))
            self.message(f"Tagged this image {cls.name!r}; its attributes are on the right.")
            return True
        return False
