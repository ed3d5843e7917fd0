"""Air-gapped delivery (issue 16): what the bundle and the wheelhouse weigh, and how long
Vellum takes from launch to its first window, for the pip install and for the bundle, beside
labelme (the peer) measured in the same run.

1. Bundle size by part: the one-folder app built by ``bash scripts/build_bundle.sh`` (found
   in ``$VELLUM_BUNDLE`` - the unpacked app folder holding ``vellum`` and ``_internal`` - or
   under ``/tmp/vellum-bundle/work``), split into SimpleITK, OpenCV, PyAV, Qt, ONNX Runtime,
   numpy, Python, GDCM and the rest.
2. Wheelhouse size: ``$VELLUM_WHEELHOUSE`` or the one the bundle build made, by wheel.
3. Cold start to first window: a fresh process on a fresh user folder under Xvfb (the xcb
   platform, as on a desktop), timed from the launch to the X server's MapNotify of its first
   top-level window (read from the root window through libX11: no polling). The pip install is this
   interpreter's ``python -m app`` (or ``$VELLUM_PIP_VELLUM``, a ``vellum`` script of a
   wheel install); the bundle its ``vellum``; labelme ``$VELLUM_LABELME`` or
   ``/tmp/labelme-venv/bin/labelme`` (``python3 -m venv /tmp/labelme-venv &&
   /tmp/labelme-venv/bin/pip install labelme``). The first launch of each is reported apart
   (the files may still be in the page cache from the build; the cache is never dropped), then
   the median of the next runs. Goal: <= 3 s to the first window.

Run: ``python -m benchmarks delivery``.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(os.environ.get("VELLUM_BENCH_START_RUNS", "5"))
TIMEOUT_S = 30.0
DISPLAY = ":97"

PARTS = (  # (part, path prefixes inside _internal)
    ("SimpleITK", ("SimpleITK", "simpleitk")),
    ("OpenCV (cv2 + its FFmpeg, OpenBLAS)", ("cv2", "opencv_python_headless")),
    ("PyAV (av + FFmpeg)", ("av", "av.libs", "av-")),
    ("Qt (PySide6, shiboken6, ICU)", ("PySide6", "shiboken6", "pyside6", "libQt6", "libicu",
                                      "libpyside6", "libshiboken6")),
    ("ONNX Runtime", ("onnxruntime",)),
    ("CUDA/cuDNN runtime (GPU variant)", ("nvidia",)),
    ("numpy", ("numpy", "numpy.libs")),
    ("Python (libpython, stdlib)", ("libpython", "python3", "base_library.zip")),
    ("GDCM, pylibjpeg (DICOM decoders)", ("_gdcm", "gdcm", "python_gdcm", "_openjpeg",
                                          "openjpeg", "rle", "pylibjpeg")),
    ("onnx (graph edits on import)", ("onnx", "ml_dtypes", "google")),
)


def _mb(n: float) -> str:
    return f"{n / 1e6:.0f} MB"


def _tree_size(path: Path) -> int:
    if path.is_symlink():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def find_bundle() -> Path | None:
    given = os.environ.get("VELLUM_BUNDLE")
    if given:
        return Path(given)
    found = sorted(Path("/tmp/vellum-bundle/work").glob("stage-*/vellum-*/vellum"))
    return found[0] if found else None


def bundle_rows(app: Path) -> list[dict]:
    internal = app / "_internal"
    total = _tree_size(app)
    files = sum(1 for p in app.rglob("*") if p.is_file())
    sizes: dict[str, int] = {}
    for entry in internal.iterdir():
        name = entry.name
        part = next((label for label, prefixes in PARTS
                     if name.startswith(prefixes) and not (label == "onnx (graph edits on "
                                                           "import)" and name.startswith(
                                                               "onnxruntime"))), "other")
        sizes[part] = sizes.get(part, 0) + _tree_size(entry)
    rows = [{"name": "bundle: whole app folder", "ours_ms": None, "peer_ms": None,
             "peer": "", "notes": f"{_mb(total)}, {files} files ({app})"}]
    for part, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        if size:
            rows.append({"name": f"bundle part: {part}", "ours_ms": None, "peer_ms": None,
                         "peer": "", "notes": f"{_mb(size)} ({100 * size / total:.0f} %)"})
    packed = next((sorted(d.glob("vellum-*.tar.gz")) for d in app.parents[:4]
                   if any(d.glob("vellum-*.tar.gz"))), [])
    for tarball in packed:
        rows.append({"name": f"bundle packed: {tarball.name}", "ours_ms": None, "peer_ms": None,
                     "peer": "", "notes": _mb(tarball.stat().st_size)})
    return rows


def wheelhouse_rows(house: Path) -> list[dict]:
    wheels = sorted(house.glob("*.whl"), key=lambda p: -p.stat().st_size)
    total = sum(p.stat().st_size for p in wheels)
    rows = [{"name": "wheelhouse: all wheels", "ours_ms": None, "peer_ms": None, "peer": "",
             "notes": f"{_mb(total)}, {len(wheels)} wheels ({house})"}]
    for w in wheels[:6]:
        rows.append({"name": f"wheel: {w.name.split('-')[0]}", "ours_ms": None,
                     "peer_ms": None, "peer": "", "notes": _mb(w.stat().st_size)})
    return rows


class _RootWatch:
    """Map events of top-level windows, read from the X server through libX11 (ctypes):
    SubstructureNotify selected on the root window, confirmed by XSync before any launch, so
    no map can slip by (an ``xev`` started beside the program can miss it on a busy machine)."""

    MAP_NOTIFY, SUBSTRUCTURE_NOTIFY_MASK = 19, 1 << 19

    def __init__(self, display: str) -> None:
        import ctypes
        import ctypes.util

        x = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        for name in ("XDefaultRootWindow",):
            getattr(x, name).restype = ctypes.c_ulong
            getattr(x, name).argtypes = [ctypes.c_void_p]
        x.XSelectInput.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_long]
        for name in ("XSync",):
            getattr(x, name).argtypes = [ctypes.c_void_p, ctypes.c_int]
        for name in ("XPending", "XConnectionNumber", "XCloseDisplay"):
            getattr(x, name).argtypes = [ctypes.c_void_p]
        x.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.x, self.ctypes = x, ctypes
        self.dpy = x.XOpenDisplay(display.encode())
        if not self.dpy:
            raise OSError(f"cannot open X display {display}")
        x.XSelectInput(self.dpy, x.XDefaultRootWindow(self.dpy), self.SUBSTRUCTURE_NOTIFY_MASK)
        x.XSync(self.dpy, 0)
        self.fd = x.XConnectionNumber(self.dpy)
        self.event = (ctypes.c_long * 24)()

    def drain(self) -> None:
        self.x.XSync(self.dpy, 0)
        while self.x.XPending(self.dpy):
            self.x.XNextEvent(self.dpy, self.event)

    def wait_map(self, timeout: float) -> float | None:
        """perf_counter() at the first MapNotify, or None after ``timeout`` seconds."""
        import select

        deadline = time.perf_counter() + timeout
        while True:
            while self.x.XPending(self.dpy):
                self.x.XNextEvent(self.dpy, self.event)
                kind = self.ctypes.cast(self.event, self.ctypes.POINTER(self.ctypes.c_int))[0]
                if kind == self.MAP_NOTIFY:
                    return time.perf_counter()
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            select.select([self.fd], [], [], min(left, 0.5))

    def close(self) -> None:
        self.x.XCloseDisplay(self.dpy)


class Xvfb:
    """A private X server, watched for the map of each launched program's first window."""

    def __enter__(self) -> Xvfb:
        self.failures: list[str] = []
        self.server = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", "1600x1000x24",
                                        "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        socket = Path(f"/tmp/.X11-unix/X{DISPLAY[1:]}")
        while time.monotonic() < deadline and not socket.exists():
            time.sleep(0.05)
        time.sleep(0.2)
        self.watch = _RootWatch(DISPLAY)
        return self

    def first_window_s(self, cmd: list[str], env: dict[str, str]) -> float | None:
        """Seconds from launching ``cmd`` to the map of its first top-level window."""
        self.watch.drain()
        log = tempfile.TemporaryFile()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log,
                                start_new_session=True)
        when = self.watch.wait_map(TIMEOUT_S)
        exited = proc.poll()
        windows = "" if when else subprocess.run(
            ["xwininfo", "-display", DISPLAY, "-root", "-tree"], capture_output=True,
            text=True).stdout
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        if when:
            return when - t0
        log.seek(0)
        said = log.read().decode(errors="replace").strip().splitlines()
        named = [w.strip()[:80] for w in windows.splitlines() if '": (' in w]
        self.failures.append(f"{Path(cmd[-1]).name}: exit {exited}, "
                             f"{said[-1][:160] if said else 'nothing on stderr'}; "
                             + (f"windows: {named[:2]}" if named else "no named window"))
        return None

    def __exit__(self, *exc: object) -> None:
        self.watch.close()
        self.server.kill()
        self.server.wait()


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "PYTHONPATH"))}
    env.update(DISPLAY=DISPLAY, QT_QPA_PLATFORM="xcb", HOME=str(home),
               XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"))
    return env


def start_rows(candidates: list[tuple[str, list[str] | None, str]]) -> list[dict]:
    if not shutil.which("Xvfb"):
        return [{"name": "cold start to first window", "ours_ms": None, "peer_ms": None,
                 "peer": "", "notes": "skipped: needs Xvfb (apt-get install xvfb)"}]
    times: dict[str, list[float | None]] = {}
    with Xvfb() as x, tempfile.TemporaryDirectory(prefix="vellum-start-") as tmp:
        for i in range(RUNS):  # interleaved, so a busy moment hits every program alike
            for label, cmd, _ in candidates:
                if cmd is None:
                    continue
                home = Path(tmp) / f"{label.replace(' ', '_')}-{i}"
                home.mkdir()
                times.setdefault(label, []).append(x.first_window_s(cmd, _env(home)))
        failures = x.failures
    peer = times.get("labelme", [])
    peer_first = peer[0] * 1e3 if peer and peer[0] is not None else None
    rest = [t for t in peer[1:] if t is not None]
    peer_median = statistics.median(rest) * 1e3 if rest else None
    rows = []
    for label, cmd, note in candidates:
        if label == "labelme":
            continue
        if cmd is None:
            rows.append({"name": f"start to first window: {label}", "ours_ms": None,
                         "peer_ms": peer_median, "peer": "labelme", "notes": note})
            continue
        got = times[label]
        later = [t for t in got[1:] if t is not None]
        failed = sum(t is None for t in got)
        rows.append({"name": f"first launch to first window: {label}",
                     "ours_ms": got[0] * 1e3 if got[0] is not None else None,
                     "peer_ms": peer_first, "peer": "labelme (first launch)",
                     "notes": note + (f"; {failed} of {len(got)} launches showed no window "
                                      f"in {TIMEOUT_S:.0f} s" if failed else "")})
        rows.append({"name": f"start to first window: {label} (median)",
                     "ours_ms": statistics.median(later) * 1e3 if later else None,
                     "peer_ms": peer_median, "peer": f"labelme, median of {len(rest)}",
                     "notes": f"median of {len(later)} launches; goal <= 3000 ms"})
    for failure in dict.fromkeys(failures):
        rows.append({"name": "a launch showed no window", "ours_ms": None, "peer_ms": None,
                     "peer": "", "notes": failure})
    if not peer:
        rows.append({"name": "labelme (peer)", "ours_ms": None, "peer_ms": None, "peer": "",
                     "notes": "not installed: python3 -m venv /tmp/labelme-venv && "
                              "/tmp/labelme-venv/bin/pip install labelme (or $VELLUM_LABELME)"})
    return rows


def run() -> list[dict]:
    rows: list[dict] = []
    app = find_bundle()
    if app and (app / "_internal").is_dir():
        rows += bundle_rows(app)
    else:
        rows.append({"name": "bundle size", "ours_ms": None, "peer_ms": None, "peer": "",
                     "notes": "no bundle found: bash scripts/build_bundle.sh (or $VELLUM_BUNDLE)"})
    house = Path(os.environ.get("VELLUM_WHEELHOUSE", "/tmp/vellum-bundle/work/wheelhouse-cpu"))
    if house.is_dir() and any(house.glob("*.whl")):
        rows += wheelhouse_rows(house)
    else:
        rows.append({"name": "wheelhouse size", "ours_ms": None, "peer_ms": None, "peer": "",
                     "notes": "no wheelhouse: python scripts/make_wheelhouse.py --out DIR "
                              "(or $VELLUM_WHEELHOUSE)"})
    pip_cmd = [os.environ["VELLUM_PIP_VELLUM"]] if os.environ.get("VELLUM_PIP_VELLUM") else [
        sys.executable, "-m", "app"]
    labelme = os.environ.get("VELLUM_LABELME", "/tmp/labelme-venv/bin/labelme")
    candidates: list[tuple[str, list[str] | None, str]] = [
        ("pip install", pip_cmd, " ".join(Path(c).name for c in pip_cmd)),
        ("bundle", [str(app / "vellum")] if app and (app / "vellum").is_file() else None,
         "the one-folder app" if app else "no bundle built"),
        ("labelme", [labelme] if Path(labelme).is_file() else None, "peer"),
    ]
    rows += start_rows(candidates)
    return rows


if __name__ == "__main__":
    from benchmarks.report import print_table

    print_table("delivery_bench", run())
