"""Islands (3D Slicer's Islands effect): keep the largest island of a segment, remove the
islands smaller than N voxels, or split the islands into segments. An island is a set of voxels
connected through faces (6-connected in 3D), as Slicer's default; islands are ranked by voxel
count, largest first (ties in scan order), as SimpleITK's RelabelComponent ranks them."""

from __future__ import annotations

import numpy as np

KEEP_LARGEST, REMOVE_SMALL, SPLIT = "keep_largest", "remove_small", "split"


def components(mask: np.ndarray, min_voxels: int = 0) -> np.ndarray:
    """The islands of ``mask`` as int32 labels 1..n, 1 the largest; islands with fewer than
    ``min_voxels`` voxels are left out (0)."""
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(mask.astype(np.uint8))
    cc = sitk.ConnectedComponent(img, False)  # faces only
    ranked = sitk.RelabelComponent(cc, int(max(min_voxels, 0)), True)
    return sitk.GetArrayFromImage(ranked).astype(np.int32)


def keep_largest(mask: np.ndarray) -> np.ndarray:
    """Only the largest island of ``mask``."""
    return components(mask) == 1


def remove_small(mask: np.ndarray, min_voxels: int) -> np.ndarray:
    """``mask`` without its islands of fewer than ``min_voxels`` voxels."""
    return components(mask, min_voxels) > 0


def split(mask: np.ndarray, min_voxels: int = 0) -> np.ndarray:
    """Each island its own label (int32, 1 the largest; islands under ``min_voxels`` 0)."""
    return components(mask, min_voxels)
