"""Loading a 512x512x300 CT series (made here with pydicom: 12 stored bits, int16 HU after
RescaleIntercept) beside SimpleITK's ImageSeriesReader and dcm2niix, in the same run.

Each load runs in a fresh subprocess (files warm in the page cache for every peer), three
times; the median is reported. The clock starts after the libraries are imported (pydicom
for us, SimpleITK for it), as in a running app. Memory: the child's peak RSS above its RSS just before the
load, and (ours) tracemalloc's peak, both over the voxel data's size (goal <= 2.5x).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAPE = (300, 512, 512)  # k, j, i
RUNS = 3

_PRELUDE = """
import json, resource, sys, time
def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096 / 2**20
"""

OURS = _PRELUDE + """
import tracemalloc
import pydicom  # imported before the clock starts, as SimpleITK is in its run
from app.io.volume import load_volume
traced = sys.argv[2] == "traced"  # tracemalloc slows Python down: a run of its own
before = rss_mb()
if traced:
    tracemalloc.start()
t = time.perf_counter()
v = load_volume(sys.argv[1])
ms = (time.perf_counter() - t) * 1000
peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else None
print(json.dumps({"ms": ms, "traced_mb": peak, "rss_mb": resource.getrusage(
    resource.RUSAGE_SELF).ru_maxrss / 1024 - before, "data_mb": v.array.nbytes / 2**20,
    "dtype": str(v.array.dtype)}))
"""

SITK = _PRELUDE + """
import SimpleITK as sitk
before = rss_mb()
t = time.perf_counter()
r = sitk.ImageSeriesReader()
r.SetFileNames(r.GetGDCMSeriesFileNames(sys.argv[1]))
im = r.Execute()
ms = (time.perf_counter() - t) * 1000
print(json.dumps({"ms": ms, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                  / 1024 - before, "dtype": im.GetPixelIDTypeAsString()}))
"""


def make_ct_series(folder: Path, shape: tuple[int, int, int] = SHAPE) -> None:
    """A CT series: one file per slice, 0.7 mm pixels, 1.25 mm slices, shuffled names."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    n, rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    body = ((yy - rows / 2) ** 2 + (xx - cols / 2) ** 2) < (0.42 * rows) ** 2
    rng = np.random.default_rng(0)
    order = rng.permutation(n)
    for k in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SOPClassUID, ds.Modality = CTImageStorage, "CT"
        ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.FrameOfReferenceUID = series, study, frame
        ds.SeriesDescription, ds.InstanceNumber = "Bench CT", k + 1
        ds.Rows, ds.Columns, ds.PixelSpacing, ds.SliceThickness = rows, cols, [0.7, 0.7], 1.25
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-179.2, -179.2, -400 + 1.25 * k]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1, -1024, "HU"
        slice_ = np.where(body, 1064 + (k % 50), 24).astype(np.uint16)
        slice_ += rng.integers(0, 40, size=(rows, cols), dtype=np.uint16)
        ds.PixelData = slice_.tobytes()
        ds.save_as(folder / f"IM{order[k]:05d}.dcm", enforce_file_format=True)


def transcode(src: Path, dst: Path, syntax: str, limit: int | None = None) -> None:
    """Re-encode the first ``limit`` slices (by position) of ``src`` with pydicom's
    pylibjpeg encoders ("rle" or "j2k", lossless)."""
    import pydicom
    from pydicom.uid import JPEG2000Lossless, RLELossless

    dst.mkdir(parents=True, exist_ok=True)
    files = sorted(src.iterdir(), key=lambda f: float(
        pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]))
    uid = {"rle": RLELossless, "j2k": JPEG2000Lossless}[syntax]
    for f in files[:limit]:
        ds = pydicom.dcmread(f)
        ds.compress(uid, encoding_plugin="pylibjpeg")
        ds.save_as(dst / f.name, enforce_file_format=True)


def _child(code: str, folder: Path, mode: str = "timed") -> dict:
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code, str(folder), mode], capture_output=True,
                         text=True, check=True, cwd=repo)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _dcm2niix_ms(folder: Path) -> float | None:
    exe = shutil.which("dcm2niix")
    if exe is None:
        return None
    times = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            subprocess.run([exe, "-z", "n", "-b", "n", "-o", out, str(folder)], check=True,
                           capture_output=True)
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _convert_ms(folder: Path) -> float:
    repo = Path(__file__).resolve().parents[1]
    times = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "app", "volume", "convert", str(folder),
                            str(Path(out) / "ct.nii")], check=True, capture_output=True,
                           cwd=repo)
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ct"
        make_ct_series(folder)
        ours = [_child(OURS, folder) for _ in range(RUNS)]
        traced = _child(OURS, folder, "traced")
        sitk = [_child(SITK, folder) for _ in range(RUNS)]
        d2n = _dcm2niix_ms(folder)
        convert = _convert_ms(folder)
        compressed = []
        for syntax, limit in (("rle", None), ("j2k", 60)):
            sub = Path(tmp) / syntax
            transcode(folder, sub, syntax, limit)
            compressed.append((syntax, limit or SHAPE[0],
                               _median([_child(OURS, sub) for _ in range(RUNS)], "ms"),
                               _median([_child(SITK, sub) for _ in range(RUNS)], "ms")))
    data_mb = ours[0]["data_mb"]
    ours_ms, sitk_ms = _median(ours, "ms"), _median(sitk, "ms")
    dims = "x".join(str(s) for s in reversed(SHAPE))
    rows = [
        {"name": f"load {dims} CT folder (scan + decode)", "ours_ms": ours_ms,
         "peer_ms": sitk_ms, "peer": "SimpleITK ImageSeriesReader",
         "notes": f"{ours_ms / sitk_ms:.2f}x SimpleITK; ours {ours[0]['dtype']}, SimpleITK "
                  f"{sitk[0]['dtype']} (goal <= 1.0x)"},
        {"name": f"peak memory while loading / voxel data ({data_mb:.0f} MB)", "ours_ms": None,
         "peer_ms": None, "peer": "SimpleITK",
         "notes": f"ours RSS {_median(ours, 'rss_mb') / data_mb:.2f}x, tracemalloc "
                  f"{traced['traced_mb'] / data_mb:.2f}x; SimpleITK RSS "
                  f"{_median(sitk, 'rss_mb') / data_mb:.2f}x (goal <= 2.5x)"},
        {"name": f"convert {dims} CT folder to .nii (process)", "ours_ms": convert,
         "peer_ms": d2n, "peer": "dcm2niix -z n",
         "notes": "whole command: start-up, scan, decode, write" + (
             f"; {convert / d2n:.2f}x dcm2niix" if d2n else "; dcm2niix not installed")},
    ]
    names = {"rle": "RLE lossless", "j2k": "JPEG 2000 lossless"}
    for syntax, n, ours_c, sitk_c in compressed:
        rows.append({"name": f"load 512x512x{n} CT, {names[syntax]}", "ours_ms": ours_c,
                     "peer_ms": sitk_c, "peer": "SimpleITK ImageSeriesReader",
                     "notes": f"{ours_c / sitk_c:.2f}x SimpleITK; ours: "
                              + ("pylibjpeg-rle" if syntax == "rle" else
                                 f"GDCM via pydicom, {os.cpu_count()} CPUs")})
    return rows


if __name__ == "__main__":
    from benchmarks.report import print_table

    print_table("volume_bench", run())
