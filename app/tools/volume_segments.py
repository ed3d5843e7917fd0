"""Label maps and their segments as edits: make a label map for a volume, add, rename,
recolour and delete segments - each linked to a class of the project's label schema (one
ontology for photos, video and volumes), each edit one undoable command (``Put`` of the
label map's record, with ``SetSchema`` first when a class has to be made).
"""

from __future__ import annotations

from dataclasses import replace

from app.core.commands import Batch, Command, ModifyLabelMap, Put, SetSchema
from app.core.labelmap import LabelMapInfo, Mode, Segment
from app.core.media import MediaItem
from app.core.schema import PALETTE, LabelClass, LabelSchema

DEFAULT_NAME = "Segmentation"


def new_labelmap(item: MediaItem, name: str = DEFAULT_NAME,
                 segments: tuple[Segment, ...] = ()) -> LabelMapInfo:
    """An empty label map with the volume's shape (uint16: up to 65535 segments)."""
    k, j, i = item.volume_shape
    return LabelMapInfo(item.id, k, j, i, "uint16", name, segments)


def class_for(schema: LabelSchema, name: str) -> tuple[LabelClass, LabelSchema | None]:
    """The class named ``name`` (any case), or a new one and the schema holding it."""
    found = next((c for c in schema.classes if c.name.lower() == name.strip().lower()), None)
    if found is not None:
        return found, None
    cls = LabelClass(name.strip(), PALETTE[len(schema.classes) % len(PALETTE)])
    return cls, schema.with_class(cls)


def segment_of_class(info: LabelMapInfo, class_id: str | None) -> Segment | None:
    if class_id is None:
        return None
    return next((s for s in info.segments if s.class_id == class_id), None)


def add_segment(schema: LabelSchema, info: LabelMapInfo | None, item: MediaItem,
                name: str | None = None, class_id: str | None = None,
                color: str | None = None) -> tuple[Command, LabelMapInfo, Segment]:
    """A new segment (the next free value) linked to class ``class_id``, or to the class
    named ``name`` (made when missing); ``info`` None makes the label map too. Returns the
    command, the label map as it will be and the segment."""
    steps: list[Command] = []
    cls = schema.class_by_id(class_id) if class_id else None
    if cls is None:
        cls, new_schema = class_for(schema, name or "Segment")
        if new_schema is not None:
            steps.append(SetSchema(new_schema, label="Add class"))
    info = info or new_labelmap(item)
    seg = Segment(info.next_value(), name or cls.name, color or cls.color, cls.id)
    info = info.with_segment(seg)
    steps.append(Put((info,), label=f"Add segment {seg.name}"))
    cmd = steps[0] if len(steps) == 1 else Batch(tuple(steps), label=f"Add segment {seg.name}")
    return cmd, info, seg


def edit_segment(info: LabelMapInfo, value: int, **changes) -> Command:
    """Rename (``name``), recolour (``color``), relink (``class_id``) or code (``codes``,
    see :class:`~app.core.labelmap.Segment`) segment ``value``."""
    seg = info.segment(value)
    if seg is None:
        raise ValueError(f"label map {info.name!r} has no segment {value}")
    what = "Rename" if "name" in changes else "Recolour" if "color" in changes else "Edit"
    return Put((info.with_segment(replace(seg, **changes)),), label=f"{what} segment")


def delete_segment(info: LabelMapInfo, value: int, box=None) -> Command:
    """Erase segment ``value``'s voxels (inside ``box``, a Region holding all of them;
    default the whole label map) and remove it, as one undo step."""
    import numpy as np

    seg = info.segment(value)
    if seg is None:
        raise ValueError(f"label map {info.name!r} has no segment {value}")
    start, shape = (box.start, box.shape) if box is not None else ((0, 0, 0), info.shape)
    steps: list[Command] = []
    if all(shape):
        steps.append(ModifyLabelMap(info.id, start, np.ones(shape, bool), Mode.ERASE, value,
                                    label=f"Delete segment {seg.name}"))
    kept = tuple(s for s in info.segments if s.value != value)
    steps.append(Put((replace(info, segments=kept),), label=f"Delete segment {seg.name}"))
    return Batch(tuple(steps), label=f"Delete segment {seg.name}")
