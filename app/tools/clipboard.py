"""Copy, paste and "repeat last shapes from the previous image" (functions the window calls).

Pasted shapes keep their image coordinates (pixels); they get new ids, the current place
and a z above what is there. Masks whose size differs from the current image are
skipped. Each paste is one undo step.
"""

from __future__ import annotations

from app.core.annotations import Annotation
from app.core.commands import Put
from app.core.places import Place
from app.core.shapes import Event, Mask, Tag
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
    w, h = state.image_size
    z = max((a.z for a in state.annotations()), default=-1) + 1
    out, skipped = [], 0
    for a in sorted(anns, key=lambda a: a.z):
        if isinstance(a.shape, Mask) and (a.shape.rle.width, a.shape.rle.height) != (w, h):
            skipped += 1
            continue
        out.append(copied(a, place=state.place, z=z + len(out), hidden=False, locked=False))
    if skipped:
        state.message(f"{skipped} mask{'s' * (skipped != 1)} of another image size skipped.")
    if not out or not state.execute(Put(tuple(out), label=label)):
        return []
    state.select([a.id for a in out])
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
