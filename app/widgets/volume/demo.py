"""The demo CT's painted segment: a label map "Findings" whose segment "lesion" (linked to the
class "lesion", made when the project has none) holds the phantom's lesion
(:func:`app.demo_media.lesion_mask`, ``[k, j, i]``). Qt-free; the demo builder runs it."""

from __future__ import annotations

from app.core.commands import Batch, Command, ModifyLabelMap, Put, SetSchema
from app.core.labelmap import Mode, Segment
from app.core.media import MediaItem
from app.core.schema import LabelClass
from app.tools.volume_segments import new_labelmap

LESION_COLOUR = "#f58231"


def demo_volume_labels(doc, item: MediaItem) -> Command:
    """The command that adds "Findings" with the painted "lesion" to the demo CT ``item``."""
    from app.demo_media import lesion_mask

    mask = lesion_mask()
    if tuple(mask.shape) != tuple(item.volume_shape):
        raise ValueError(f"{item.name} is {item.volume_shape} voxels, not the demo CT's "
                         f"{mask.shape}")
    steps: list[Command] = []
    cls = doc.schema.class_by_name("lesion")
    if cls is None:
        cls = LabelClass("lesion", LESION_COLOUR)
        steps.append(SetSchema(doc.schema.with_class(cls), label="Add class"))
    info = new_labelmap(item, "Findings", (Segment(1, "lesion", cls.color, cls.id),))
    steps.append(Put((info,), label="Add segmentation"))
    steps.append(ModifyLabelMap(info.id, (0, 0, 0), mask, Mode.ADD, 1, label="Paint lesion"))
    return Batch(tuple(steps), label="Demo findings")
