"""From DICOM headers to series: group files by SeriesInstanceUID, split a series into
stacks of like images (orientation, size, pixel spacing), plan each stack's grid.

A series holding several stacks (a 3-plane localizer, say) becomes several
:class:`~app.io.volume.model.SeriesInfo`: the largest keeps the SeriesInstanceUID, the others
are named ``UID#2``, ``UID#3``...
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from app.io.volume.dicom_grid import cap, plan_stack
from app.io.volume.dicom_headers import FileHeader
from app.io.volume.model import FrameRef, SeriesInfo

ORIENTATION_TOL = 1e-3  # direction cosines closer than this are one orientation
SPACING_TOL = 1e-3  # relative pixel-spacing difference still counted as equal


def _label(description: str, uid: str, folder: Path) -> str:
    name = f"{description!r}" if description else uid
    return f"series {name} in {folder}"


def _same_stack(a: FrameRef, b: FrameRef) -> bool:
    if (a.rows, a.columns) != (b.rows, b.columns):
        return False
    if (a.orientation is None) != (b.orientation is None):
        return False
    if a.orientation is not None and b.orientation is not None and max(
            abs(x - y) for x, y in zip(a.orientation, b.orientation)) > ORIENTATION_TOL:
        return False
    if a.pixel_spacing and b.pixel_spacing:
        return all(abs(x - y) <= SPACING_TOL * max(x, y)
                   for x, y in zip(a.pixel_spacing, b.pixel_spacing))
    return a.pixel_spacing == b.pixel_spacing


def _stacks(frames: list[FrameRef]) -> list[list[FrameRef]]:
    stacks: list[list[FrameRef]] = []
    for f in frames:
        home = next((s for s in stacks if _same_stack(s[0], f)), None)
        if home is None:
            stacks.append([f])
        else:
            home.append(f)
    return sorted(stacks, key=len, reverse=True)


def build_series(headers: list[FileHeader], regularize: bool = True) -> list[SeriesInfo]:
    """Series found in ``headers``: image series (one per stack, or per part of a stack
    whose spacing changes), then the others. ``regularize``: see
    :func:`~app.io.volume.dicom_grid.plan_stack`."""
    images: dict[str, list[FileHeader]] = defaultdict(list)
    others: dict[str, list[FileHeader]] = defaultdict(list)
    for h in headers:
        if h.kind == "image":
            images[h.series_uid].append(h)
        elif h.kind == "other":
            others[h.series_uid].append(h)
    out: list[SeriesInfo] = []
    for uid, hs in images.items():
        out.extend(_image_series(uid, hs, others.pop(uid, []), regularize))
    for uid, hs in others.items():
        h = hs[0]
        files = sorted(x.path for x in hs)
        what = f"series {h.description!r}" if h.description else f"{files[0]}"
        out.append(SeriesInfo(uid=uid, description=h.description, modality=h.modality,
                              geometry=None, files=files, is_image=False, number=h.number,
                              frames=len(hs),
                              warnings=[f"{cap(what)} ({len(files)} file(s) "
                                        f"in {files[0].parent}) is {h.reason}; it is "
                                        "skipped."]))
    return out


def _image_series(uid: str, hs: list[FileHeader], not_images: list[FileHeader],
                  regularize: bool = True) -> list[SeriesInfo]:
    h0 = min(hs, key=lambda h: str(h.path))
    folder = h0.path.parent
    description = h0.description or (f"{h0.modality or 'DICOM'} series {h0.number}"
                                     if h0.number is not None else
                                     f"{h0.modality or 'DICOM'} series in {folder.name}")
    frames = [f for h in hs for f in h.frames]
    stacks = _stacks(frames)
    common: list[str] = []
    if not_images:
        common.append(f"{len(not_images)} file(s) of {_label(description, uid, folder)} are "
                      f"not images (e.g. {not_images[0].path.name}: {not_images[0].reason}) "
                      "and are left out.")
    if len(stacks) > 1:
        common.append(f"{cap(_label(description, uid, folder))} holds {len(stacks)} stacks of "
                      "images with different orientation or size (e.g. a 3-plane "
                      "localizer); each is read as a volume of its own.")
    out = []
    for n, stack in enumerate(stacks):
        sid = uid if n == 0 else f"{uid}#{n + 1}"
        desc = description if n == 0 else f"{description} (stack {n + 1})".strip()
        label = _label(desc, sid, folder)
        try:
            parts = plan_stack(stack, label, regularize)
        except ValueError as exc:
            info = SeriesInfo(uid=sid, description=desc, modality=h0.modality, geometry=None,
                              files=sorted({f.path for f in stack}), frames=len(stack),
                              number=h0.number, monochrome1=h0.monochrome1,
                              warnings=list(common), is_image=False)
            info.warnings.insert(0, f"{cap(label)} cannot be laid out as a "
                                 f"volume ({exc}); it is skipped.")
            out.append(info)
            continue
        for r, part in enumerate(parts):
            used = [f for f in part.plan[0] if f is not None] if part.plan else stack
            if len(part.plan) > 1:
                used = [f for vol in part.plan for f in vol if f is not None]
            info = SeriesInfo(uid=sid if r == 0 else f"{sid}#part{r + 1}", description=desc,
                              modality=h0.modality, geometry=part.geometry,
                              files=sorted({f.path for f in used}), frames=len(used),
                              number=h0.number, monochrome1=h0.monochrome1,
                              warnings=list(common) + part.warnings, plan=part.plan,
                              volumes=len(part.plan), shifts=part.shifts, part=part.part)
            info.damaged.extend(_damaged_slices(hs, part.plan, info.title))
            if h0.monochrome1:
                info.warnings.append(f"{cap(label)} is MONOCHROME1 (low "
                                     "values display white); values are kept as stored.")
            out.append(info)
    return out



def _damaged_slices(hs: list[FileHeader], plan: list[list[FrameRef | None]], title: str
                    ) -> list[str]:
    """A sentence for each file of the stack whose pixel data is cut short, naming the file
    and the slice(s) it holds (k, 0-based, in the first volume)."""
    cut = {h.path: h.damage for h in hs if h.damage}
    if not cut:
        return []
    slices: dict[Path, list[int]] = defaultdict(list)
    for k, f in enumerate(plan[0] if plan else []):
        if f is not None and f.path in cut:
            slices[f.path].append(k)
    out = []
    for path in sorted(cut):
        ks = slices.get(path, [])
        where = (f"slice k={ks[0]}" if len(ks) == 1 else f"{len(ks)} slices" if ks
                 else "a slice")
        out.append(f"{path} is damaged: {cut[path]}, so {where} of {title} cannot be shown "
                   "and is marked in the views.")
    return out
