"""Segment surfaces of a label map for the 3D view (Qt-free; VTK imported only when called).

Each segment value becomes one closed, smoothed, decimated triangle mesh, as 3D Slicer builds
its "closed surface" representation: the segment's voxels (a 0/1 mask cropped to the segment's
bounding box plus a one-voxel margin, so that a segment touching the volume's edge is closed
too) -> marching cubes at 0.5 (``vtkFlyingEdges3D``) in continuous voxel index space ->
windowed-sinc smoothing -> quadric decimation -> every point put in patient LPS (mm) through
:meth:`VolumeGeometry.voxel_to_world` (the one formula: oblique and anisotropic grids land
right). Meshes are plain numpy arrays, so a worker thread can build them and the UI thread can
hand them to VTK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from app.core.geometry import VolumeGeometry

SMOOTH_ITERATIONS = 20
SMOOTH_PASSBAND = 0.05  # windowed-sinc pass band (smaller: smoother), as Slicer's default-ish
DECIMATE = 0.5  # share of the triangles quadric decimation removes (0: none)
MAX_TRIANGLES = 300_000  # per segment after decimation: more is decimated further


@dataclass(frozen=True)
class SegmentMesh:
    """A segment's surface: ``points`` (N, 3) LPS mm (float64), ``triangles`` (M, 3) point
    indices, outward when the grid is right-handed or not (orientation is fixed for
    left-handed grids)."""

    value: int
    points: np.ndarray
    triangles: np.ndarray

    @property
    def centroid(self) -> np.ndarray:
        """Area-weighted centroid of the surface (LPS mm)."""
        p = self.points[self.triangles]
        area = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)
        centres = p.mean(axis=1)
        return (centres * area[:, None]).sum(axis=0) / max(float(area.sum()), 1e-12)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(min, max) corner of the points (LPS mm)."""
        return self.points.min(axis=0), self.points.max(axis=0)


def bounding_box(mask: np.ndarray) -> tuple[tuple[int, int], ...] | None:
    """(lo, hi) per array axis (k, j, i; hi exclusive) of the true voxels; None if none."""
    out = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hit = np.flatnonzero(mask.any(axis=other))
        if not hit.size:
            return None
        out.append((int(hit[0]), int(hit[-1]) + 1))
    return tuple(out)


def segment_mesh(labels: np.ndarray, geometry: VolumeGeometry, value: int,
                 smooth: bool = True, decimate: float = DECIMATE) -> SegmentMesh | None:
    """The surface of segment ``value`` of ``labels`` ([k, j, i], the volume's grid); None
    when it has no voxels."""
    mask = labels == value
    box = bounding_box(mask)
    if box is None:
        return None
    (k0, k1), (j0, j1), (i0, i1) = box
    crop = np.zeros((k1 - k0 + 2, j1 - j0 + 2, i1 - i0 + 2), np.uint8)
    crop[1:-1, 1:-1, 1:-1] = mask[k0:k1, j0:j1, i0:i1]
    del mask
    points, triangles = _contour(crop, (i0 - 1, j0 - 1, k0 - 1), smooth, decimate)
    if not len(triangles):
        return None
    world = geometry.voxel_to_world(points)
    if np.linalg.det(geometry.affine_lps()[:3, :3]) < 0:  # a mirror flips the winding
        triangles = triangles[:, ::-1].copy()
    return SegmentMesh(int(value), world, triangles)


def build_surfaces(labels: np.ndarray, geometry: VolumeGeometry, values: Iterable[int],
                   cancelled: Callable[[], bool] | None = None,
                   progress: Callable[[int, int], None] | None = None
                   ) -> dict[int, SegmentMesh]:
    """A mesh per segment value that has voxels (see :func:`segment_mesh`). ``cancelled`` is
    asked between segments; ``progress(done, total)`` after each."""
    values = [int(v) for v in values]
    out: dict[int, SegmentMesh] = {}
    for n, v in enumerate(values):
        if cancelled is not None and cancelled():
            break
        mesh = segment_mesh(labels, geometry, v)
        if mesh is not None:
            out[v] = mesh
        if progress is not None:
            progress(n + 1, len(values))
    return out


def _contour(crop: np.ndarray, offset: tuple[int, int, int], smooth: bool,
             decimate: float) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes of a 0/1 ``crop`` [k, j, i] whose voxel (0, 0, 0) is voxel index
    ``offset`` (i, j, k) of the volume: (points as continuous (i, j, k), triangles)."""
    from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkFiltersCore import (vtkFlyingEdges3D, vtkQuadricDecimation,
                                           vtkTriangleFilter, vtkWindowedSincPolyDataFilter)

    image = vtkImageData()
    nk, nj, ni = crop.shape
    image.SetDimensions(ni, nj, nk)
    image.SetOrigin(*(float(v) for v in offset))
    image.SetSpacing(1.0, 1.0, 1.0)
    image.GetPointData().SetScalars(numpy_to_vtk(crop.ravel(), deep=True))
    contour = vtkFlyingEdges3D()
    contour.SetInputData(image)
    contour.SetValue(0, 0.5)
    contour.ComputeNormalsOff()
    contour.ComputeGradientsOff()
    contour.Update()
    poly = contour.GetOutput()
    if poly.GetNumberOfPolys() == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    if smooth:
        sinc = vtkWindowedSincPolyDataFilter()
        sinc.SetInputData(poly)
        sinc.SetNumberOfIterations(SMOOTH_ITERATIONS)
        sinc.SetPassBand(SMOOTH_PASSBAND)
        sinc.BoundarySmoothingOff()
        sinc.FeatureEdgeSmoothingOff()
        sinc.NonManifoldSmoothingOn()
        sinc.NormalizeCoordinatesOn()
        sinc.Update()
        poly = sinc.GetOutput()
    cells = poly.GetNumberOfPolys()
    reduction = decimate
    if cells * (1 - reduction) > MAX_TRIANGLES:
        reduction = 1 - MAX_TRIANGLES / cells
    if reduction > 0 and cells > 64:
        tri = vtkTriangleFilter()
        tri.SetInputData(poly)
        dec = vtkQuadricDecimation()
        dec.SetInputConnection(tri.GetOutputPort())
        dec.SetTargetReduction(float(min(reduction, 0.98)))
        dec.VolumePreservationOn()
        dec.Update()
        poly = dec.GetOutput()
    points = vtk_to_numpy(poly.GetPoints().GetData()).astype(np.float64)
    conn = vtk_to_numpy(poly.GetPolys().GetConnectivityArray()).astype(np.int64)
    offsets = vtk_to_numpy(poly.GetPolys().GetOffsetsArray())
    if not np.all(np.diff(offsets) == 3):  # marching cubes gives triangles; keep to them
        raise ValueError("segment surface is not made of triangles")
    return points, conn.reshape(-1, 3)
