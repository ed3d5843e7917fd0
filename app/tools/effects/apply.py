"""Running an effect on a label map: find the edited segment's box (``np.any`` per axis, read
slab by slab), grow it by what the effect can reach, read that box once, compute the new mask of
the segment there, keep the change to the editable area ("only where value in" the intensity
range and the chosen segment area, as Slicer's masking section), cut it to the smallest box
holding every changed voxel, and make the one :class:`~app.core.commands.ModifyLabelMap`
(``Mode.SET`` of the segment, the masks as its ``where``), so undo restores the voxels exactly.
Scissors cut with an outline drawn on a slice (see :mod:`app.tools.effects.scissors`).
Split islands also adds segments: one ``Batch`` (one undo step) of the new segments and their
voxels.

Reading (:func:`prepare`) touches the document and runs on the UI thread; :func:`compute` is
pure numpy/SimpleITK (off the UI thread); :func:`command` builds the edit. Voxel boxes are
``(k, j, i)``; sizes in mm; intensity in the volume's units (HU for CT).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.core.commands import Batch, Command, ModifyLabelMap, Put
from app.core.labelmap import BRICK, LabelMapInfo, Mode, Segment
from app.tools.effects import hollow as hollow_mod
from app.tools.effects import islands, logical, margin as margin_mod, scissors, smoothing
from app.tools.effects.morphology import Box, grow_box, tight_box, union_box

EVERYWHERE, OUTSIDE = "everywhere", "outside"  # editable areas; "inside:<value>" the third

# every effect and operation, as Slicer's effects and their operation buttons: (key, text)
EFFECTS: tuple[tuple[str, str], ...] = (
    ("islands.keep_largest", "Islands: keep largest"),
    ("islands.remove_small", "Islands: remove small"),
    ("islands.split", "Islands: split into segments"),
    ("smoothing.median", "Smoothing: median"),
    ("smoothing.opening", "Smoothing: opening (remove extrusions)"),
    ("smoothing.closing", "Smoothing: closing (fill holes)"),
    ("smoothing.gaussian", "Smoothing: Gaussian"),
    ("margin.grow", "Margin: grow"),
    ("margin.shrink", "Margin: shrink"),
    ("hollow.inside", "Hollow: shell inside"),
    ("hollow.outside", "Hollow: shell outside"),
    ("hollow.centered", "Hollow: shell centred"),
    ("logical.copy", "Logical: copy other segment"),
    ("logical.union", "Logical: add other segment"),
    ("logical.intersect", "Logical: intersect with other"),
    ("logical.subtract", "Logical: subtract other segment"),
    ("logical.invert", "Logical: invert"),
    ("logical.clear", "Logical: clear"),
    ("scissors.erase_inside", "Scissors: erase inside (draw an outline)"),
    ("scissors.erase_outside", "Scissors: erase outside (draw an outline)"),
    ("scissors.fill_inside", "Scissors: fill inside (draw an outline)"),
    ("scissors.fill_outside", "Scissors: fill outside (draw an outline)"),
)
EFFECT_TEXT = dict(EFFECTS)


@dataclass(frozen=True)
class EffectParams:
    """What the options say: ``effect`` (a key of :data:`EFFECTS`), ``size_mm`` (kernel,
    margin, shell thickness or Gaussian sigma), ``min_voxels`` (islands), ``other`` (segment B
    of the logical operators), ``area`` (``"everywhere"``, ``"outside"``: background and the
    segment itself, ``"inside:<v>"``: segment v and the segment itself) and ``intensity``
    (``(lo, hi)``: change only voxels with ``lo <= value <= hi``; None: any value).
    Scissors: ``outline`` (picture points of the slice ``plane``, (axis, index)) and
    ``through`` (every slice along the axis, else that slice only)."""

    effect: str = "islands.keep_largest"
    size_mm: float = 3.0
    min_voxels: int = 1000
    other: int | None = None
    area: str = EVERYWHERE
    intensity: tuple[float, float] | None = None
    outline: tuple[tuple[float, float], ...] = ()
    plane: tuple[str, int] | None = None
    through: bool = True

    @property
    def family(self) -> str:
        return self.effect.split(".")[0]

    @property
    def operation(self) -> str:
        return self.effect.split(".")[1]


@dataclass
class Prepared:
    """The box an effect works in and what was read there: ``labels`` (label-map values),
    ``values`` (the volume's intensities, only when an intensity range is set)."""

    labelmap_id: str
    value: int
    params: EffectParams
    spacing: tuple[float, float, float]
    start: tuple[int, int, int]
    labels: np.ndarray
    values: np.ndarray | None = None
    segment_voxels: int = 0
    extra: dict = field(default_factory=dict)


@dataclass
class Result:
    """What :func:`compute` found: ``new`` (bool, the segment's new mask over the box),
    ``where`` (editable voxels, None: all), ``islands`` (split: int32 labels, 1 the largest)."""

    new: np.ndarray
    where: np.ndarray | None
    islands: np.ndarray | None = None


def segment_box(doc, labelmap_id: str, values: set[int]) -> Box | None:
    """The smallest box holding every voxel of the label map with one of ``values``, read one
    slab of bricks along k at a time (memory: one slab)."""
    info = doc.labelmap_info(labelmap_id)
    nk, nj, ni = info.shape
    want = np.array(sorted(values))
    found: Box | None = None
    for k0 in range(0, nk, BRICK):
        depth = min(BRICK, nk - k0)
        slab = np.isin(doc.labelmap_region(labelmap_id, (k0, 0, 0), (depth, nj, ni)), want)
        box = tight_box(slab)
        if box is not None:
            box = ((box[0][0] + k0, box[0][1], box[0][2]),
                   (box[1][0] + k0, box[1][1], box[1][2]))
            found = union_box(found, box)
    return found


def reach(params: EffectParams, spacing: tuple[float, float, float]) -> tuple[int, int, int]:
    """Voxels (k, j, i) beyond the segment's box an effect may change or must see."""
    fam, op = params.family, params.operation
    if fam == "smoothing":
        return smoothing.reach(op, params.size_mm, spacing)
    if fam == "margin":
        return margin_mod.reach(params.size_mm if op == "grow" else -params.size_mm, spacing)
    if fam == "hollow":
        return hollow_mod.reach(params.size_mm, op, spacing)
    return (0, 0, 0)


def prepare(doc, labelmap_id: str, value: int, params: EffectParams,
            spacing: tuple[float, float, float], volume: np.ndarray | None
            ) -> Prepared | str:
    """Read what ``params``' effect needs on segment ``value`` (a sentence when it cannot run:
    an empty segment, no other segment chosen)."""
    info: LabelMapInfo = doc.labelmap_info(labelmap_id)
    fam, op = params.family, params.operation
    if fam == "logical" and op in logical.NEEDS_OTHER:
        if params.other is None or params.other == value or info.segment(params.other) is None:
            return "Choose another segment (B) for this operator."
    if fam == "scissors":
        if len(params.outline) < 3 or params.plane is None:
            return "Draw an outline on a slice (press, drag around, release)."
        axis, index = params.plane
        picture = scissors.outline_mask(params.outline, axis, info.shape)
        drawn = scissors.picture_box(picture, axis, index, params.through, info.shape)
        if drawn is None:
            return "The outline holds no voxel centre; draw a larger one."
    if fam == "logical" and op == "invert" or fam == "scissors" and op.endswith("outside"):
        box: Box | None = ((0, 0, 0), info.shape)
        if fam == "scissors" and op == scissors.ERASE_OUTSIDE:
            box = segment_box(doc, labelmap_id, {value})
        elif fam == "scissors" and not params.through:  # fill outside, in the slice drawn on
            a = "kji".index(params.plane[0])  # type: ignore[index]
            lo, hi = [0, 0, 0], list(info.shape)
            lo[a], hi[a] = params.plane[1], params.plane[1] + 1  # type: ignore[index]
            box = (tuple(lo), tuple(hi))  # type: ignore[assignment]
    elif fam == "scissors":
        box = drawn if op == scissors.FILL_INSIDE else segment_box(doc, labelmap_id, {value})
    else:
        box = segment_box(doc, labelmap_id, {value})
        if fam == "logical" and op in (logical.COPY, logical.UNION):
            box = union_box(box, segment_box(doc, labelmap_id, {params.other}))  # type: ignore
    if box is None:
        return "The segment is empty; nothing to do." if fam != "logical" else \
            "Both segments are empty; nothing to do."
    box = grow_box(box, reach(params, spacing), info.shape)
    start, stop = box
    shape = tuple(b - a for a, b in zip(start, stop))
    labels = doc.labelmap_region(labelmap_id, start, shape)  # type: ignore[arg-type]
    values = None
    if params.intensity is not None and volume is not None:
        values = np.asarray(volume[tuple(slice(a, b) for a, b in zip(start, stop))])
    out = Prepared(labelmap_id, value, params, spacing, start, labels, values,
                   int(np.count_nonzero(labels == value)))
    if fam == "scissors":
        out.extra["picture"] = picture
        out.extra["shape"] = info.shape
    return out


def editable(p: Prepared) -> np.ndarray | None:
    """The voxels the effect may change (None: every one): the segment area, then the
    intensity range."""
    where = None
    area = p.params.area
    if area == OUTSIDE:
        where = (p.labels == 0) | (p.labels == p.value)
    elif area.startswith("inside:"):
        where = (p.labels == int(area.split(":")[1])) | (p.labels == p.value)
    if p.params.intensity is not None and p.values is not None:
        lo, hi = p.params.intensity
        inside = (p.values >= lo) & (p.values <= hi)
        where = inside if where is None else where & inside
    return where


def compute(p: Prepared) -> Result:
    """The segment's new mask over the prepared box (pure; may run off the UI thread)."""
    a = p.labels == p.value
    fam, op, q = p.params.family, p.params.operation, p.params
    split_labels = None
    if fam == "islands":
        if op == islands.KEEP_LARGEST:
            new = islands.keep_largest(a)
        elif op == islands.REMOVE_SMALL:
            new = islands.remove_small(a, q.min_voxels)
        else:
            split_labels = islands.split(a, q.min_voxels)
            new = split_labels == 1
    elif fam == "smoothing":
        new = smoothing.smooth(a, op, q.size_mm, p.spacing)
    elif fam == "margin":
        new = margin_mod.margin(a, q.size_mm if op == "grow" else -q.size_mm, p.spacing)
    elif fam == "hollow":
        new = hollow_mod.hollow(a, q.size_mm, op, p.spacing)
    elif fam == "logical":
        b = p.labels == q.other if q.other is not None else None
        new = logical.combine(op, a, b)
    elif fam == "scissors":
        axis, index = q.plane  # type: ignore[misc]
        inside = scissors.extruded(p.extra["picture"], axis, index, q.through, p.start,
                                   p.labels.shape)
        within = None if q.through else scissors.extruded(
            np.ones(p.extra["picture"].shape, bool), axis, index, False, p.start,
            p.labels.shape)
        new = scissors.cut(a, inside, op, within)
    else:
        raise ValueError(f"unknown effect {q.effect!r}")
    return Result(new, editable(p), split_labels)


def _cut(start, new: np.ndarray, where: np.ndarray | None, changed: np.ndarray):
    box = tight_box(changed)
    if box is None:
        return None
    sl = tuple(slice(a, b) for a, b in zip(*box))
    at = tuple(s + a for s, a in zip(start, box[0]))
    return at, new[sl], (None if where is None else where[sl])


ISLAND_COLORS = ("#e6194b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
                 "#bcf60c", "#fabebe", "#008080", "#9a6324")


def command(p: Prepared, r: Result, info: LabelMapInfo | None = None
            ) -> tuple[Command | None, str]:
    """The one undoable edit of the effect's result (None when nothing changes) and a sentence
    saying what it does. ``info``: the label map (split islands adds segments to it)."""
    text = EFFECT_TEXT.get(p.params.effect, p.params.effect)
    old = p.labels == p.value
    allowed = np.ones(old.shape, bool) if r.where is None else r.where
    changed = (r.new != old) & allowed
    steps: list[Command] = []
    cut = _cut(p.start, r.new, r.where, changed)
    if cut is not None:
        at, mod, where = cut
        steps.append(ModifyLabelMap(p.labelmap_id, at, np.ascontiguousarray(mod), Mode.SET,
                                    p.value, where, label=text))
    added: list[Segment] = []
    if r.islands is not None and info is not None and int(r.islands.max(initial=0)) > 1:
        for n in range(2, int(r.islands.max()) + 1):
            island = (r.islands == n) & allowed
            got = _cut(p.start, island, r.where, island)
            if got is None:
                continue
            seg = Segment(info.next_value(), _island_name(info, p.value, n),
                          ISLAND_COLORS[(n - 2) % len(ISLAND_COLORS)])
            info = info.with_segment(seg)
            added.append(seg)
            at, mod, where = got
            steps.append(ModifyLabelMap(p.labelmap_id, at, np.ascontiguousarray(mod),
                                        Mode.ADD, seg.value, where, label=text))
        if added:
            steps.insert(0, Put((info,), label=text))
    if not steps:
        return None, f"{text}: nothing changes."
    n = int(np.count_nonzero(changed))
    gained = int(np.count_nonzero(changed & r.new))
    words = f"{text}: {gained:,} voxels added, {n - gained:,} removed"
    if added:
        words += f", {len(added)} new segment{'s' if len(added) > 1 else ''}"
    cmd = steps[0] if len(steps) == 1 else Batch(tuple(steps), label=text)
    return cmd, words + "."


def _island_name(info: LabelMapInfo, value: int, n: int) -> str:
    seg = info.segment(value)
    return f"{seg.name if seg else 'Segment'} island {n}"


def run(doc, labelmap_id: str, value: int, params: EffectParams,
        spacing: tuple[float, float, float], volume: np.ndarray | None = None
        ) -> tuple[Command | None, str]:
    """Prepare, compute and build in one go (headless callers and tests)."""
    p = prepare(doc, labelmap_id, value, params, spacing, volume)
    if isinstance(p, str):
        return None, p
    return command(p, compute(p), doc.labelmap_info(labelmap_id))
