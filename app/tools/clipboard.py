"""Copy, paste and "repeat last shapes from the previous image" (functions the window calls).

Pasted shapes keep their image coordinates (pixels); they get new ids, the current place
and a z above what is there. What sticks out of the target image is cut to it (boxes,
polygons; keypoints outside become not labelled); a rotated box or polyline that sticks out,
anything wholly outside and masks of another image size are left out, and the status bar
says how many. Pasting is refused where drawing is (no picture, a read-only project). Each
paste is one undo step.
"""

from __future__ import annotations

from app.core.annotations import Annotation
from app.core.commands import Put
from app.core.places import Place
from app.core.shapes import Event, Mask, Tag
from app.tools.geometry import clipped_to_image
from app.tools.state import EditorState, copied


def copy(state: EditorState) -> int:
    """Put the selected annotations on the clipboard; returns how many."""
    sel = tuple(a for a in state.selected() if not isinstance(a.shape, (Tag, Event)))
    state.set(clipboard=sel)
    state.message(f"Copied {len(sel)} shape{'s' * (len(sel) != 1)}.")
    return len(sel)


def _place(state: EditorState, anns: tuple[Annotation, ...] | list[Annotation],
           label: str) -> list[str]:
    """Add copies of ``anns`` at the current place as one command; returns the new ids."""
    if not state.can_draw():
        return []
    w, h = state.image_size
    z = max((a.z for a in state.annotations()), default=-1) + 1
    schema = state.doc.schema if state.doc else None
    out, cut, masks, outside, refused = [], 0, 0, 0, 0
    for a in sorted(anns, key=lambda a: a.z):
        cls = schema.class_by_id(a.class_id) if schema else None
        if cls is not None and not cls.allows(a.kind):
            refused += 1
            continue
        if isinstance(a.shape, Mask):
            if (a.shape.rle.width, a.shape.rle.height) != (w, h):
                masks += 1
                continue
            shape = a.shape
        else:
            shape = clipped_to_image(a.shape, w, h)
            if shape is None:
                outside += 1
                continue
            cut += shape != a.shape
        out.append(copied(a, shape=shape, place=state.place, z=z + len(out), hidden=False,
                          locked=False))
    notes = [n for n in (
        f"{cut} cut to the image" if cut else "",
        f"{outside} outside this image left out" if outside else "",
        f"{masks} mask{'s' * (masks != 1)} of another image size left out" if masks else "",
        f"{refused} not allowed by its class left out" if refused else "") if n]
    if not out:
        state.message("Nothing pasted: " + "; ".join(notes or ["nothing to paste"]) + ".")
        return []
    if not state.execute(Put(tuple(out), label=label)):
        return []
    state.select([a.id for a in out])
    state.message(f"Pasted {len(out)} shape{'s' * (len(out) != 1)}"
                  + (f" ({'; '.join(notes)})" if notes else "") + ".")
    return [a.id for a in out]


def paste(state: EditorState) -> list[str]:
    """Paste the clipboard onto the current image; returns the new annotation ids."""
    if state.media_id is None or not state.clipboard:
        state.message("Nothing to paste.")
        return []
    return _place(state, state.clipboard, "Paste shapes")


def repeat_previous(state: EditorState, previous: Place) -> list[str]:
    """Copy every shape of the previous image (or frame, or slice) onto the current one."""
    if state.doc is None or state.media_id is None:
        return []
    prev = [a for a in state.doc.annotations(previous)
            if not isinstance(a.shape, (Tag, Event))]
    if not prev:
        state.message("The previous image has no shapes to repeat.")
        return []
    return _place(state, prev, "Repeat previous shapes")
