"""The middle slice (along array axis k) of a volume, read alone (no whole-volume load), for
thumbnails: one DICOM frame decoded, or one plane of a NIfTI file read through nibabel's
array proxy. Values in real units (HU for CT)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.core.errors import BadInputError
from app.core.media import VolumeSource


def middle_slice(path: str | Path, source: VolumeSource | None,
                 check: Callable[[], None] | None = None) -> tuple[np.ndarray, str]:
    """``(picture [j, i], modality)`` of slice k = K // 2 of the item's series. ``check()``
    is called between the files of a folder scan and may raise to stop it (a thumbnail no
    longer wanted)."""
    from app.io.volume import scan_series
    from app.io.volume.dicom_decode import read_frames
    from app.io.volume.nifti import is_nifti, open_nifti, read_voxels

    p = Path(path)
    if p.is_file() and is_nifti(p):
        img = open_nifti(p)
        k = img.shape[2] // 2 if len(img.shape) > 2 else 0
        index = (slice(None), slice(None), k) + (0,) * (len(img.shape) - 3)
        plane = np.asarray(read_voxels(p, lambda: img.dataobj[index]), np.float32)
        return plane.T, ""  # (i, j) -> picture [j, i]
    uid = source.series_uid if source else ""
    progress = (lambda *_: check()) if check is not None else None
    found = [s for s in scan_series(p, progress) if s.is_image and (not uid or s.uid == uid)]
    if not found or not found[0].plan or not found[0].plan[0]:
        raise BadInputError(f"{p} holds no image series to show.", p)
    series = found[0]
    refs = [r for r in series.plan[0] if r is not None]
    mid = len(refs) // 2
    error: Exception | None = None
    for n in sorted(range(len(refs)), key=lambda n: abs(n - mid))[:5]:
        ref = refs[n]
        try:  # a damaged middle slice: a neighbour stands in (the views mark the damage)
            (raw,) = read_frames(ref.path, [ref], None)
        except Exception as exc:  # decoders raise many kinds for damaged data
            error = error or exc
            continue
        return np.asarray(raw, np.float32) * ref.slope + ref.intercept, series.modality
    raise BadInputError(f"{p}: none of the slices around the middle of the series can be "
                        f"decoded ({' '.join(str(error).split())}).", p)
