"""Segment statistics of a project's label maps (``vellum stats``), as SimpleITK computes them.

For each label map of each volume, per segment: voxel count, volume (mL), intensity mean,
sample SD (n - 1), min, max and median of the volume in real units (HU for CT, after
RescaleSlope/Intercept, as :func:`app.io.volume.load_source` gives it), maximum 3D (Feret)
diameter (mm), surface area (mm², ITK's Perimeter of a 3D object) and centroid (mm, patient
LPS, the centre of mass of the voxel centres).

The numbers are SimpleITK's own: the label map and the volume are handed to
``LabelShapeStatisticsImageFilter`` (perimeter on) and ``LabelIntensityStatisticsImageFilter``
as images with the volume's exact geometry (the one :func:`app.io.volume.project.volume_geometry`
that ``vellum export nifti`` writes; numpy ``[k, j, i]`` is ITK's ``(i, j, k)``, spacing
``(si, sj, sk)``, origin and direction in LPS). Two notes a reader must know:

- the median is ITK's: the centre of a 128-bin histogram over the volume's whole intensity
  range, not the exact middle value;
- the Feret diameter is the largest distance between the centres of two voxels of the segment,
  which is ITK's definition; it is computed here over the convex hull of the segment's voxel
  centres (row ends), which gives the same number in far less time than ITK's pairwise search
  over all border voxels (seconds to minutes on an organ). Distances are taken in world
  space (LPS mm); ITK takes index steps x spacing, which is the same on every orthogonal grid
  (to ~1e-9 relative where a NIfTI header's float32 direction is a hair off orthogonal) and
  differs only on a sheared (gantry-tilt) grid, where ours is the true distance.

``volume_ml`` is voxels x |det(direction)| x si x sj x sk / 1000, the window's figure; it equals
ITK's physical size for every orthogonal grid. No output file is written here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from app.core.errors import VellumError
from app.core.geometry import VolumeGeometry
from app.core.labelmap import Segment

Progress = Callable[..., None]

COLUMNS = ("volume", "labelmap", "segment", "value", "voxels", "volume_ml", "mean", "sd",
           "min", "max", "median", "feret_mm", "surface_mm2", "centroid_lps")
_BRUTE_FORCE_POINTS = 3000  # below this many candidate points, all pairs are compared
_FLAT_BRUTE_FORCE_POINTS = 20000  # the same for a flat set (no 3D hull), a few seconds


@dataclass
class SegmentStatistics:
    """One segment's figures (None where the segment holds no voxel). Units: ``volume_ml``
    mL; ``mean``, ``sd`` (sample, n - 1), ``min``, ``max``, ``median`` the volume's real
    units (HU for CT); ``feret_mm`` mm; ``surface_mm2`` mm²; ``centroid_lps`` [x, y, z] mm,
    patient LPS."""

    volume: str
    labelmap: str
    segment: str
    value: int
    voxels: int
    volume_ml: float | None = None
    mean: float | None = None
    sd: float | None = None
    min: float | None = None
    max: float | None = None
    median: float | None = None
    feret_mm: float | None = None
    surface_mm2: float | None = None
    centroid_lps: list[float] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------ images for SimpleITK
_SITK_DTYPES = {np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.uint32,
                                      np.int32, np.uint64, np.int64, np.float32, np.float64)}


def sitk_image(array: np.ndarray, geometry: VolumeGeometry) -> Any:
    """A SimpleITK image of ``array[k, j, i]`` on ``geometry``: size ``(i, j, k)``, spacing
    ``(si, sj, sk)`` mm, origin and direction (row-major, columns the i, j, k axes) in LPS."""
    import SimpleITK as sitk

    if tuple(array.shape) != tuple(geometry.shape):
        raise ValueError(f"array shape {array.shape} differs from its grid {geometry.shape}")
    if array.dtype == np.bool_:
        array = array.view(np.uint8)
    elif array.dtype not in _SITK_DTYPES:
        array = array.astype(np.float64 if array.dtype.kind == "f" else np.int64)
    image = sitk.GetImageFromArray(np.ascontiguousarray(array), isVector=False)
    image.SetSpacing([float(v) for v in geometry.spacing])
    image.SetOrigin([float(v) for v in geometry.origin])
    image.SetDirection([float(v) for row in geometry.direction for v in row])
    return image


def voxel_ml(geometry: VolumeGeometry) -> float:
    """Volume of one voxel in mL (|det(direction)| x si x sj x sk / 1000)."""
    d = np.asarray(geometry.direction, float)
    return float(abs(np.linalg.det(d)) * np.prod(geometry.spacing) / 1000.0)


# ------------------------------------------------------------------ Feret diameter
def _row_ends(mask: np.ndarray) -> np.ndarray:
    """``(n, 3)`` voxel indices ``(i, j, k)`` of the first and last voxel of each row along i
    of boolean ``mask[k, j, i]``: the convex hull of the mask's voxel centres is theirs."""
    rows = mask.any(axis=2)
    k, j = np.nonzero(rows)
    sub = mask[k, j]
    first = sub.argmax(axis=1)
    last = mask.shape[2] - 1 - sub[:, ::-1].argmax(axis=1)
    pts = np.concatenate([np.stack([first, j, k], 1), np.stack([last, j, k], 1)])
    return np.unique(pts, axis=0)


def _max_distance(points: np.ndarray) -> float:
    """Largest distance between two of ``points`` (n, 3), all pairs in blocks."""
    best = 0.0
    for start in range(0, len(points), 512):
        block = points[start:start + 512]
        d2 = ((block[:, None, :] - points[None, :, :]) ** 2).sum(-1)
        best = max(best, float(d2.max()))
    return float(np.sqrt(best))


def feret_diameter(mask: np.ndarray, geometry: VolumeGeometry,
                   offset: tuple[int, int, int] = (0, 0, 0)) -> float:
    """Maximum distance (mm) between two voxel centres of boolean ``mask[k, j, i]`` whose
    voxel (0, 0, 0) is voxel ``offset`` (k, j, i) of ``geometry``; 0 for one voxel."""
    idx = _row_ends(mask) + np.array(offset[::-1])
    if len(idx) == 0:
        return 0.0
    world = geometry.voxel_to_world(idx)
    if len(world) > _BRUTE_FORCE_POINTS:
        try:
            from scipy.spatial import ConvexHull, QhullError

            try:
                world = world[ConvexHull(world).vertices]
            except QhullError:  # flat (one plane) or on a line: no 3D hull
                if len(world) > _FLAT_BRUTE_FORCE_POINTS:  # jogged hull, vertices exact
                    world = world[ConvexHull(world, qhull_options="QJ").vertices]
        except ImportError:  # pragma: no cover - scipy comes with supervision
            pass
    return _max_distance(world)


# ------------------------------------------------------------------ one label map
def labelmap_statistics(labels: np.ndarray, intensity: np.ndarray, geometry: VolumeGeometry,
                        segments: Sequence[Segment], *, volume: str = "",
                        labelmap: str = "", progress: Progress | None = None,
                        ) -> list[SegmentStatistics]:
    """Statistics of every segment of label map ``labels[k, j, i]`` over ``intensity[k, j, i]``
    (real units) on ``geometry``, in segment-value order; values found in the map that no
    segment names come after as "Segment N". Empty segments have voxels 0 and None figures."""
    import SimpleITK as sitk

    if tuple(intensity.shape) != tuple(geometry.shape) or tuple(labels.shape) != tuple(
            geometry.shape):
        raise ValueError(f"label map {labels.shape} and volume {intensity.shape} differ from "
                         f"the grid {geometry.shape}")
    say = progress or (lambda *a, **k: None)
    say(0, 4, "shape")
    label_image = sitk_image(labels, geometry)
    shape = sitk.LabelShapeStatisticsImageFilter()
    shape.SetBackgroundValue(0)
    shape.ComputePerimeterOn()
    shape.ComputeFeretDiameterOff()  # see feret_diameter: same number, far faster
    shape.Execute(label_image)
    say(1, 4, "intensity")
    values = sitk.LabelIntensityStatisticsImageFilter()
    values.SetBackgroundValue(0)
    values.Execute(label_image, sitk_image(intensity, geometry))
    del label_image
    say(2, 4, "diameter")
    present = set(int(v) for v in shape.GetLabels())
    named = {s.value: s.name for s in segments}
    order = sorted(named) + sorted(present - set(named))
    one_ml = voxel_ml(geometry)
    out: list[SegmentStatistics] = []
    for value in order:
        row = SegmentStatistics(volume, labelmap, named.get(value, f"Segment {value}"),
                                value, 0)
        if value in present:
            n = int(shape.GetNumberOfPixels(value))
            i0, j0, k0, ni, nj, nk = (int(v) for v in shape.GetBoundingBox(value))
            box = labels[k0:k0 + nk, j0:j0 + nj, i0:i0 + ni] == value
            row.voxels = n
            row.volume_ml = n * one_ml
            row.mean = float(values.GetMean(value))
            row.sd = float(values.GetStandardDeviation(value))
            row.min = float(values.GetMinimum(value))
            row.max = float(values.GetMaximum(value))
            row.median = float(values.GetMedian(value))
            row.feret_mm = feret_diameter(box, geometry, (k0, j0, i0))
            row.surface_mm2 = float(shape.GetPerimeter(value))
            row.centroid_lps = [float(v) for v in shape.GetCentroid(value)]
        out.append(row)
    say(4, 4, "")
    return out


# ------------------------------------------------------------------ a project
def _volumes(doc: Any, wanted: str | None) -> list[Any]:
    from app.core.media import MediaKind

    items = [m for m in doc.media() if m.kind is MediaKind.VOLUME]
    if wanted is None:
        return items
    chosen = [m for m in items if wanted in (m.id, m.name, m.path, m.key, m.file_name)]
    if not chosen:
        names = ", ".join(repr(m.name) for m in items) or "none"
        raise VellumError(f"{doc.path} has no volume named {wanted!r} (its volumes: "
                          f"{names}).", doc.path)
    return chosen


def project_statistics(doc: Any, volume: str | None = None,
                       progress: Progress | None = None) -> list[SegmentStatistics]:
    """Statistics of every segment of every label map of the project's volumes (or of the
    volume whose name, file name, path or id is ``volume``), volume by volume in project
    order. Refused in one sentence when that volume is not there, when there is no label
    map, or when a volume's source cannot be read or no longer fits its label maps."""
    from app.io.volume import load_source
    from app.io.volume.project import volume_geometry

    items = _volumes(doc, volume)
    pairs = [(m, info) for m in items for info in doc.labelmaps(m.id)]
    if not pairs:
        where = f" on volume {volume!r}" if volume is not None else ""
        raise VellumError(f"{doc.path} has no label maps{where} to measure.", doc.path)
    steps = len(pairs) * 5
    say = progress or (lambda *a, **k: None)
    out: list[SegmentStatistics] = []
    done = 0
    for item in items:
        maps = doc.labelmaps(item.id)
        if not maps:
            continue
        geometry = volume_geometry(doc, item)
        say(done, steps, f"reading {item.name}")
        path = doc.media_path(item)
        loaded = load_source(path, item.source, expected=item.volume)
        array = loaded.array
        if array.ndim != 3 or tuple(array.shape) != tuple(geometry.shape):
            now, want = ("x".join(map(str, shape[::-1]))
                         for shape in (array.shape, geometry.shape))
            raise VellumError(f"{path} now reads as {now} voxels, not the project's {want}; "
                              "its label maps cannot be measured on it.", path)
        del loaded
        for info in maps:
            done += 1
            labels = doc.labelmap_volume(info.id)

            def sub(n: int, total: int, what: str = "", base: int = done) -> None:
                say(base + n, steps, f"{info.name}: {what}" if what else info.name)

            out += labelmap_statistics(labels, array, geometry, info.segments,
                                       volume=item.name, labelmap=info.name, progress=sub)
            done += 4
            del labels
        del array
    say(steps, steps, "")
    return out


# ------------------------------------------------------------------ output
def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    if isinstance(v, list):
        return "(" + ", ".join(f"{x:.1f}" for x in v) + ")"
    return str(v)


def table_text(rows: Sequence[SegmentStatistics]) -> str:
    """A readable table, one line per segment, units in the header."""
    head = ("volume", "label map", "segment", "value", "voxels", "mL", "mean", "SD", "min",
            "max", "median", "Feret mm", "surface mm²", "centroid LPS mm")
    body = [(r.volume, r.labelmap, r.segment, str(r.value), str(r.voxels),
             _fmt(r.volume_ml, 3), _fmt(r.mean), _fmt(r.sd), _fmt(r.min), _fmt(r.max),
             _fmt(r.median), _fmt(r.feret_mm), _fmt(r.surface_mm2), _fmt(r.centroid_lps))
            for r in rows]
    widths = [max(len(h), *(len(b[n]) for b in body)) if body else len(h)
              for n, h in enumerate(head)]
    text = [head] + body
    lines = []
    for n, cells in enumerate(text):
        lines.append("  ".join(c.ljust(w) if col < 3 else c.rjust(w)
                               for col, (c, w) in enumerate(zip(cells, widths))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def csv_text(rows: Sequence[SegmentStatistics]) -> str:
    """CSV with the JSON keys as header; ``centroid_lps`` is split into ``centroid_lps_x``,
    ``_y``, ``_z`` (mm, LPS); empty cells where a figure is None; full precision."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    head = [c for c in COLUMNS if c != "centroid_lps"] + [
        "centroid_lps_x", "centroid_lps_y", "centroid_lps_z"]
    writer.writerow(head)
    for r in rows:
        d = r.to_json()
        c = d.pop("centroid_lps") or [None, None, None]
        writer.writerow(["" if d[k] is None else (repr(d[k]) if isinstance(d[k], float)
                                                   else d[k]) for k in head[:-3]]
                        + ["" if v is None else repr(v) for v in c])
    return buf.getvalue()
