"""Segment statistics (``vellum stats``): ours beside SimpleITK's filters with the Feret
diameter on, measured in the same run on one label map of a CT-sized volume.

Ours: :func:`app.io.volume.stats.labelmap_statistics` - SimpleITK's
``LabelShapeStatisticsImageFilter`` (perimeter on, Feret off) and
``LabelIntensityStatisticsImageFilter``, plus the Feret diameter over the convex hull of the
segment's row ends. Peer: the same two filters with ``ComputeFeretDiameterOn()`` (ITK's
pairwise search over border voxels). Both on a 160x512x512 float32 volume, anisotropic and
oblique, with an ellipsoid (~60 x 90 x 100 mm) and a small ball; every figure is checked equal.
Run: ``python -m benchmarks stats``.
"""

from __future__ import annotations

import time

import numpy as np

from app.core.geometry import VolumeGeometry
from app.core.labelmap import Segment

SHAPE = (160, 512, 512)  # k, j, i
PEER = "SimpleITK filters, Feret on"


def _case() -> tuple[np.ndarray, np.ndarray, VolumeGeometry]:
    a = np.deg2rad(12.0)
    d = ((np.cos(a), -np.sin(a), 0.0), (np.sin(a), np.cos(a), 0.0), (0.0, 0.0, 1.0))
    geometry = VolumeGeometry(SHAPE, (0.45, 0.45, 1.0), (-115.0, -100.0, 40.0), d)
    k, j, i = np.ogrid[:SHAPE[0], :SHAPE[1], :SHAPE[2]]
    labels = np.zeros(SHAPE, np.uint8)
    labels[((k - 80) / 30.0) ** 2 + ((j - 256) / 100.0) ** 2 + ((i - 256) / 110.0) ** 2 <= 1] = 1
    labels[((k - 20) / 8.0) ** 2 + ((j - 60) / 18.0) ** 2 + ((i - 60) / 18.0) ** 2 <= 1] = 2
    intensity = np.random.default_rng(0).normal(40.0, 15.0, SHAPE).astype(np.float32)
    return labels, intensity, geometry


def run() -> list[dict]:
    import SimpleITK as sitk

    from app.io.volume.stats import labelmap_statistics, sitk_image

    labels, intensity, geometry = _case()
    t = time.perf_counter()
    rows = labelmap_statistics(labels, intensity, geometry,
                               [Segment(1, "organ"), Segment(2, "lesion")])
    ours = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    label_image = sitk_image(labels, geometry)
    shape = sitk.LabelShapeStatisticsImageFilter()
    shape.ComputePerimeterOn()
    shape.ComputeFeretDiameterOn()
    shape.Execute(label_image)
    inten = sitk.LabelIntensityStatisticsImageFilter()
    inten.Execute(label_image, sitk_image(intensity, geometry))
    peer = (time.perf_counter() - t) * 1000
    worst = max(abs(r.feret_mm - shape.GetFeretDiameter(r.value)) / shape.GetFeretDiameter(
        r.value) for r in rows)
    same = all(r.median == inten.GetMedian(r.value) and r.surface_mm2 == shape.GetPerimeter(
        r.value) for r in rows)
    return [{"name": f"stats of 2 segments, {'x'.join(map(str, SHAPE))} float32", "ours_ms":
             ours, "peer_ms": peer, "peer": PEER,
             "notes": f"{rows[0].voxels:,} voxels in the organ; Feret equal to "
                      f"{worst:.1e} relative; median and surface {'equal' if same else 'DIFFER'}"}]
