"""Memory of large label-map edits: a full-volume 3D fill and a half-volume NIfTI label import,
beside numpy + nibabel doing the same, each case in a subprocess of its own.

Ours, "fill": the fill tool's :func:`~app.tools.volume_fill.flood_3d` from the centre of a
uniform uint16 volume (the whole volume is one connected region) and the resulting
``Document.execute(ModifyLabelMap(...))`` on an empty uint16 label map (old values read for
undo, bricks compressed and committed). Peer: numpy thresholds the same volume into a uint16
label array and writes it (``np.save``). Ours, "import": ``import_labelmap`` of a ``.nii.gz``
label map whose first half (along k) is segment 1, executed; peer: nibabel loads the same file
(``np.asanyarray(nib.load(p).dataobj)``).

Each row gives time (ms) and, in a second row, peak RSS above the process's RSS just before
the case (MB, VmHWM from /proc/self/status; the volume, imports and interpreter are in the
baseline). Goals: time <= 3x the peer's, peak extra RSS <= 2x the label array's bytes.
``VELLUM_MEMBENCH_SHAPE=K,J,I`` changes the size (default 1000,512,512: 512x512x1000).
Run: ``python -m benchmarks labelmap_memory``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_SHAPE = (1000, 512, 512)  # k, j, i
PEER = "numpy + nibabel"


def _shape() -> tuple[int, int, int]:
    raw = os.environ.get("VELLUM_MEMBENCH_SHAPE")
    return tuple(int(v) for v in raw.split(",")) if raw else DEFAULT_SHAPE  # type: ignore


def _rss_mb(field: str) -> float:
    """A /proc/self/status memory field (VmRSS, VmHWM) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    """Start VmHWM afresh at the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _geometry(shape):
    from app.core.geometry import VolumeGeometry

    return VolumeGeometry(shape, (0.5, 0.5, 1.0))


def _project(tmp: Path, shape, dtype: str = "uint16"):
    from app.core.commands import Put
    from app.core.document import Document
    from app.core.labelmap import LabelMapInfo, Segment
    from app.core.media import MediaItem, MediaKind

    doc = Document.create(tmp / f"proj-{len(list(tmp.glob('proj-*')))}")
    vol = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="f", size_bytes=1, width=0,
                    height=0, volume=_geometry(shape))
    info = LabelMapInfo(vol.id, *shape, dtype=dtype, segments=(Segment(1, "filled"),))
    doc.execute(Put((vol,)))
    return doc, vol, info


def _case(name: str, tmp: Path, shape) -> dict:
    """One measurement, run inside the child process: seconds and peak extra RSS (MiB)."""
    import importlib

    for module in ("nibabel", "SimpleITK", "app.io.volume.project", "app.tools.volume_fill"):
        importlib.import_module(module)  # every case imports the same first: equal baselines
    from app.core.commands import ModifyLabelMap, Put

    if name.startswith("fill"):
        volume = np.full(shape, 40, np.uint16)
        if name == "fill-ours":
            from app.tools.volume_fill import flood_3d

            doc, vol, info = _project(tmp, shape)
            doc.execute(Put((info,)))
            base = _rss_mb("VmRSS")
            _reset_peak()
            t = time.perf_counter()
            start, mask = flood_3d(volume, tuple(s // 2 for s in shape), 0, 100, 2 ** 62)
            cmd = ModifyLabelMap(info.id, start, mask, mode="add", value=1, label="Fill")
            doc.execute(cmd)
            secs = time.perf_counter() - t
            done = int(cmd.voxels_changed)
        else:
            base = _rss_mb("VmRSS")
            _reset_peak()
            t = time.perf_counter()
            labels = np.zeros(shape, np.uint16)
            labels[(volume >= 0) & (volume <= 100)] = 1
            np.save(tmp / "labels.npy", labels)
            secs = time.perf_counter() - t
            done = int(np.count_nonzero(labels))
    else:
        path = tmp / "seg.nii.gz"
        if name == "import-ours":
            from app.io.volume.project import import_labelmap

            doc, vol, _ = _project(tmp, shape)
            base = _rss_mb("VmRSS")
            _reset_peak()
            t = time.perf_counter()
            cmd = import_labelmap(doc, path, vol)
            doc.execute(cmd)
            secs = time.perf_counter() - t
            done = sum(getattr(c, "voxels_changed", 0) for c in cmd.commands)
        else:
            import nibabel as nib

            base = _rss_mb("VmRSS")
            _reset_peak()
            t = time.perf_counter()
            data = np.asanyarray(nib.load(str(path)).dataobj)
            secs = time.perf_counter() - t
            done = int(np.count_nonzero(data))
    return {"secs": secs, "extra_mb": _rss_mb("VmHWM") - base, "voxels": done}


def _write_nifti(tmp: Path, shape) -> None:
    from app.core.labelmap import Segment
    from app.io.volume import write_labelmap_nifti

    labels = np.zeros(shape, np.uint8)
    labels[: shape[0] // 2] = 1
    write_labelmap_nifti(tmp / "seg.nii.gz", labels, _geometry(shape), [Segment(1, "half")])


def _child(name: str, tmp: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-m", "benchmarks.labelmap_memory_bench", "--case",
                          name, tmp], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"case {name} failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run() -> list[dict]:
    shape = _shape()
    size = "x".join(map(str, reversed(shape)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ours, peer = _child("fill-ours", tmp), _child("fill-peer", tmp)
        mb = np.prod(shape) * 2 / 2 ** 20  # uint16 label array
        rows += [{"name": f"full-volume fill {size}, time", "ours_ms": ours["secs"] * 1e3,
                  "peer_ms": peer["secs"] * 1e3, "peer": PEER + " (threshold, np.save)",
                  "notes": f"goal <= 3x; {ours['voxels']:,} voxels filled"},
                 {"name": f"full-volume fill {size}, peak MB", "ours_ms": ours["extra_mb"],
                  "peer_ms": peer["extra_mb"], "peer": PEER,
                  "notes": f"goal <= 2x the label array ({mb:.0f} MB uint16): "
                           f"{ours['extra_mb'] / mb:.2f}x"}]
        (Path(tmp) / "labels.npy").unlink()
        _write_nifti(Path(tmp), shape)
        ours, peer = _child("import-ours", tmp), _child("import-peer", tmp)
        mb = np.prod(shape) / 2 ** 20  # uint8 label array
        rows += [{"name": f"half-volume NIfTI import {size}, time",
                  "ours_ms": ours["secs"] * 1e3, "peer_ms": peer["secs"] * 1e3,
                  "peer": PEER + " (nib.load dataobj)",
                  "notes": f"goal <= 3x; {ours['voxels']:,} voxels imported"},
                 {"name": f"half-volume NIfTI import {size}, peak MB",
                  "ours_ms": ours["extra_mb"], "peer_ms": peer["extra_mb"], "peer": PEER,
                  "notes": f"goal <= 2x the label array ({mb:.0f} MB uint8): "
                           f"{ours['extra_mb'] / mb:.2f}x"}]
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--case":
        print(json.dumps(_case(sys.argv[2], Path(sys.argv[3]), _shape())))
    else:
        from benchmarks.report import print_table

        print_table("labelmap_memory_bench", run())
