"""Self-test steps about the machine: the Qt platform plugin and fonts (probed in a child
process, so that a plugin that cannot load is reported instead of aborting this one), the data
and model folders (written to, naming the variable that moves each), ONNX Runtime's telemetry
and, last, whether anything opened a network socket during the whole self-test."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.selftest import Check, Context, Failed, Step

PROBE_FLAG = "--qt-probe"
PROBE_TIMEOUT = 120
_DISPLAY_VARIABLE = {"xcb": "DISPLAY", "wayland": "WAYLAND_DISPLAY"}


# ------------------------------------------------------------------ Qt (child side)
def default_platform() -> str:
    """The platform plugin Qt picks when ``QT_QPA_PLATFORM`` is not set."""
    chosen = os.environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen
    if sys.platform == "win32":
        return "windows"
    if sys.platform == "darwin":
        return "cocoa"
    if os.environ.get("WAYLAND_DISPLAY") and os.environ.get("XDG_SESSION_TYPE") == "wayland":
        return "wayland"
    return "xcb"


def plugin_file(name: str) -> Path:
    from PySide6.QtCore import QLibraryInfo

    folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    stem = f"q{name}.dll" if sys.platform == "win32" else (
        f"libq{name}.dylib" if sys.platform == "darwin" else f"libq{name}.so")
    return folder / stem


def qt_probe() -> dict[str, Any]:
    """Run in a child process (``vellum self-test --qt-probe``): load the platform plugin's
    library (the loader names a missing system library), start a QGuiApplication on it when
    there is a display (else on ``offscreen``) and count the font families Qt finds."""
    name = default_platform()
    out: dict[str, Any] = {"platform": name, "plugin": "", "loads": True, "error": "",
                           "display": True, "used": name, "families": 0, "sample": []}
    try:
        path = plugin_file(name)
        out["plugin"] = str(path)
        if path.is_file():
            ctypes.CDLL(str(path))
        elif name not in ("offscreen", "minimal"):
            out["loads"], out["error"] = False, f"{path} does not exist"
        if name == "xcb" and out["loads"] and sys.platform.startswith("linux"):
            ctypes.CDLL("libxcb-cursor.so.0")  # Qt 6.5+ opens it only when starting up
    except OSError as exc:
        out["loads"], out["error"] = False, str(exc).split(":")[0].strip() or str(exc)
    variable = _DISPLAY_VARIABLE.get(name)
    if variable and not os.environ.get(variable):
        out["display"], out["used"] = False, "offscreen"
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if not out["loads"] and out["display"]:
        os.environ["QT_QPA_PLATFORM"] = out["used"] = "offscreen"
    print(json.dumps({"started": out}), flush=True)  # said before Qt may abort the process
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication([sys.argv[0]])
    from app.widgets.labels import ensure_fonts

    families = ensure_fonts()
    out["used"] = app.platformName()
    out["families"], out["sample"] = len(families), families[:3]
    return out


# ------------------------------------------------------------------ Qt (parent side)
def _probe_command() -> list[str]:
    if getattr(sys, "frozen", False):  # a one-folder build: its executable is the CLI
        return [sys.executable, "self-test", PROBE_FLAG]
    return [sys.executable, "-m", "app", "self-test", PROBE_FLAG]


def _run_probe() -> tuple[dict[str, Any] | None, str]:
    """The child's report (None when it died) and the last lines it wrote on stderr."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run(_probe_command(), capture_output=True, text=True, env=env,
                              timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL,
                              cwd=tempfile.gettempdir(), errors="replace")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"the Qt check could not run ({exc})"
    report = started = None
    for line in done.stdout.splitlines():
        try:
            found = json.loads(line)
        except ValueError:
            continue
        if isinstance(found, dict):
            started = found.get("started", started)
            report = found.get("done", report)
    said = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()
            and not ln.startswith(("Traceback", "  "))]
    qpa = [ln for ln in said if ln.startswith("qt.qpa")]  # Qt's own word on the platform
    words = "; ".join((qpa[:2] + said[-1:]) if qpa else said[-2:]).rstrip(".")
    if report is None:
        return (started and {**started, "crashed": True},
                words or f"it exited with status {done.returncode}")
    return report, words


def check_qt(ctx: Context) -> list[Check]:
    import time

    start = time.perf_counter()
    report, said = _run_probe()
    ms = int(round((time.perf_counter() - start) * 1000))
    hint = ("install the system libraries the README lists for Qt (Debian/Ubuntu: "
            "libxcb-cursor0, libxkbcommon-x11-0, libegl1 ...)")
    if report is None or (report.get("crashed") and report.get("display")):
        platform = (report or {}).get("platform", default_platform())
        variable = _DISPLAY_VARIABLE.get(platform)
        if variable and "connect to display" in said:
            hint = (f"no display answers on {variable}={os.environ.get(variable, '')}: check "
                    "it, or set QT_QPA_PLATFORM=offscreen for a check without a screen")
        qt = Check("Qt platform plugin", False, f"Qt could not start on its {platform} "
                   f"platform plugin ({said}); {hint}.", "-", ms)
        return [qt, Check("fonts", False, "Not checked: Qt could not start.", "-", 0)]
    name = report["platform"]
    if not report["loads"] and os.environ.get("QT_QPA_PLATFORM") and not Path(
            report["plugin"]).is_file():
        qt = Check("Qt platform plugin", False, f"QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}"
                   f" names a platform plugin this Qt does not have ({report['error']}); "
                   "unset QT_QPA_PLATFORM or set it to xcb, wayland or offscreen.", "-", ms)
    elif not report["loads"]:
        qt = Check("Qt platform plugin", False, f"The Qt platform plugin {name} cannot load "
                   f"({report['error']}); {hint}.", "-", ms)
    elif not report["display"]:
        variable = _DISPLAY_VARIABLE.get(name, "DISPLAY")
        qt = Check("Qt platform plugin", True, f"{name} loads; there is no display here now "
                   f"({variable} is not set), so fonts were checked offscreen.", "-", ms)
    else:
        qt = Check("Qt platform plugin", True, f"{report['used']} started "
                   f"({report['plugin'] or 'built in'}).", "-", ms)
    if report.get("crashed"):
        fonts = Check("fonts", False, f"Not checked: Qt stopped ({said}).", "-", 0)
    elif report["families"] == 0:
        fonts = Check("fonts", False, "Qt finds no fonts, so the window would draw no text; "
                      "install a font package (Debian/Ubuntu: fonts-dejavu-core; Fedora: "
                      "dejavu-sans-fonts).", "-", 0)
    else:
        fonts = Check("fonts", True, f"{report['families']} font families "
                      f"({', '.join(report['sample'])}...)", "-", 0)
    return [qt, fonts]


# ------------------------------------------------------------------ folders
def check_data_folder(ctx: Context) -> str:
    from app.demo import _data_variable, user_data_folder

    return _writable(user_data_folder(), "data folder", "(the demo project, the log) ",
                     _data_variable())


def check_models_folder(ctx: Context) -> str:
    from app.inference.packs import models_dir, models_dir_variable

    return _writable(models_dir(), "model folder", "", models_dir_variable())


def _writable(folder, what: str, holds: str, variable: str) -> str:
    """A folder check's answer, or :class:`Failed` naming the variable that moves it."""
    from app.inference.packs import folder_unwritable

    why = folder_unwritable(folder)
    if why:
        raise Failed(f"The {what} {folder} {holds}is not writable ({why}); set {variable} "
                     "to a writable folder to move it.")
    return f"{folder} is writable"


def check_telemetry(ctx: Context) -> str:
    from app.inference.runtime import telemetry_status

    status = telemetry_status()
    if not status["off"]:
        raise Failed(f"ONNX Runtime telemetry may be on: {status['detail']}.")
    return status["detail"]


def check_sockets(ctx: Context) -> str:
    guard = ctx.samples["guard"]
    if not guard.works():
        raise Failed("The audit hook that watches sockets saw nothing, so this could not be "
                     "checked.")
    if guard.network:
        uses = "; ".join(dict.fromkeys(guard.network))
        raise Failed(f"Something in this process used the network during the self-test "
                     f"({uses}); Vellum must never do that.")
    return (f"no IPv4/IPv6 socket made, no connect, bind or name lookup "
            f"({guard.socket_events} local socket events)")


def first_steps() -> list[Step]:
    return [Step("Qt platform plugin, fonts", check_qt),
            Step("data folder writable", check_data_folder),
            Step("model folder writable", check_models_folder)]


def last_steps() -> list[Step]:
    return [Step("telemetry off", check_telemetry),
            Step("no network socket opened", check_sockets)]
