#!/usr/bin/env python3
"""Gather the licence of everything a built one-folder Vellum app holds into
``APP/licenses/``: every bundled Python distribution (its dist-info licence files and any
LICENSE/COPYING/NOTICE file its wheel installs, e.g. OpenCV's and PyAV's notices for the
FFmpeg and other libraries they vendor), CPython itself, each system library PyInstaller copied
from the build machine (with its Debian/RPM package's copyright file where one is found), the
bundled DejaVu font and the model packs Vellum knows (manifests only: weights are never
bundled). Writes ``licenses/THIRD-PARTY.md``: one line per component.

Run with the Python of the build environment (it reads that environment's metadata)::

    python scripts/bundle/collect_licenses.py dist/vellum
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

NOTICE = re.compile(r"(^|/)(LICEN[CS]E|COPYING|NOTICE|AUTHORS|COPYRIGHT)[^/]*$", re.I)


def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def licence_of(dist: metadata.Distribution) -> str:
    md = dist.metadata
    text = md.get("License-Expression") or ""
    if not text:
        lic = (md.get("License") or "").strip()
        text = lic.splitlines()[0][:80] if lic and len(lic) < 200 else ""
    if not text:
        classes = [c.split("::")[-1].strip() for c in md.get_all("Classifier") or []
                   if c.startswith("License ::")]
        text = "; ".join(classes)
    return text or "see files"


def python_distributions(internal: Path) -> list[metadata.Distribution]:
    """The distributions whose dist-info PyInstaller copied into the app."""
    found = {}
    for info in sorted(internal.glob("*.dist-info")):
        name = info.name[: -len(".dist-info")].rsplit("-", 1)[0]
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[dist.metadata["Name"].lower()] = dist
    return [found[k] for k in sorted(found)]


def copy_notices(dist: metadata.Distribution, dest: Path) -> list[str]:
    copied = []
    for f in dist.files or []:
        rel = str(f).replace("\\", "/")
        if not NOTICE.search(rel) or rel.endswith((".py", ".pyc")):
            continue
        src = Path(dist.locate_file(f))
        if src.is_file():
            target = dest / safe(rel.replace("/", "__"))
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
            copied.append(target.name)
    return copied


def system_libraries(internal: Path) -> list[Path]:
    """Shared libraries at the top of _internal that came from the build system (not from a
    wheel's *.libs folder or a package)."""
    return sorted(p for p in internal.iterdir() if p.is_file() and not p.is_symlink()
                  and ".so" in p.name and "cpython-" not in p.name and ".abi3." not in p.name
                  and not p.name.startswith(("libpython", "libQt6", "libpyside6",
                                             "libshiboken6", "libonnxruntime")))


# Licence texts to ship for a distribution whose wheel carries none (from the build system's
# copies, e.g. Debian's /usr/share/common-licenses): Qt's LGPL-3.0 needs its text beside it.
COMMON = Path("/usr/share/common-licenses")
FALLBACK = (("LGPL-3", ("LGPL-3", "GPL-3")), ("GPL-3", ("GPL-3",)), ("LGPL-2.1", ("LGPL-2.1",)),
            ("GPL-2", ("GPL-2",)), ("Apache", ("Apache-2.0",)), ("MPL-2", ("MPL-2.0",)))


def fallback_texts(licence: str, dest: Path) -> list[str]:
    for key, texts in FALLBACK:
        if key.lower() in licence.lower().replace(" ", "-"):
            found = [COMMON / t for t in texts if (COMMON / t).is_file()]
            for f in found:
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest / f"{f.name}.txt")
            return [f.name for f in found]
    return []


def package_of(lib: str) -> tuple[str, Path | None]:
    """(package name, its copyright file) of a system library, where dpkg or rpm knows it."""
    for candidate in (f"/lib/x86_64-linux-gnu/{lib}", f"/usr/lib/x86_64-linux-gnu/{lib}",
                      f"/usr/lib64/{lib}", f"/lib64/{lib}", f"/usr/lib/{lib}"):
        if not Path(candidate).exists():
            continue
        if shutil.which("dpkg"):
            done = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if done.returncode == 0:
                pkg = done.stdout.split(":")[0].strip()
                cr = Path(f"/usr/share/doc/{pkg}/copyright")
                return pkg, cr if cr.is_file() else None
        if shutil.which("rpm"):
            done = subprocess.run(["rpm", "-qf", "--qf", "%{NAME} %{LICENSE}", candidate],
                                  capture_output=True, text=True)
            if done.returncode == 0:
                return done.stdout.strip(), None
    return "", None


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    app = Path(argv[0]).resolve()
    internal = app / "_internal"
    if not internal.is_dir():
        print(f"{app} is not a PyInstaller one-folder app (no _internal/).", file=sys.stderr)
        return 2
    out = app / "licenses"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    rows = ["# Third-party components in this Vellum bundle", "",
            "| component | version | licence | files in licenses/ |", "|---|---|---|---|"]

    py_licence = Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"
    if py_licence.is_file():
        shutil.copy2(py_licence, out / "CPython-LICENSE.txt")
    rows.append(f"| CPython | {sys.version.split()[0]} | PSF-2.0 | CPython-LICENSE.txt |")

    for dist in python_distributions(internal):
        name, version = dist.metadata["Name"], dist.version
        folder = out / safe(f"{name}-{version}")
        files = copy_notices(dist, folder) or fallback_texts(licence_of(dist), folder)
        rows.append(f"| {name} | {version} | {licence_of(dist)} | "
                    f"{folder.name + '/' if files else '(none shipped in the wheel)'} |")

    for lib in system_libraries(internal):
        pkg, copyright_file = package_of(lib.name)
        if copyright_file:
            shutil.copy2(copyright_file, out / safe(f"system-{pkg}-copyright.txt"))
        rows.append(f"| {lib.name} (from the build system) | {pkg or '?'} | see file | "
                    f"{'system-' + safe(pkg) + '-copyright.txt' if copyright_file else '-'} |")

    font = internal / "resources" / "fonts" / "LICENSE.txt"
    if font.is_file():
        shutil.copy2(font, out / "DejaVu-fonts-LICENSE.txt")
        rows.append("| DejaVu Sans font | 2.37 | Bitstream Vera (free) | "
                    "DejaVu-fonts-LICENSE.txt |")

    manifests = sorted(internal.glob("models/*.json")) + sorted(
        p for p in internal.glob("app/**/*.json") if "manifest" in str(p.parent).lower()
        or p.parent.name == "models")
    rows += ["", "## Model packs Vellum can import (weights are not bundled)", "",
             "| model | licence | source |", "|---|---|---|"]
    seen = set()
    for path in manifests:
        try:
            m = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(m, dict) or "id" not in m or m["id"] in seen:
            continue
        seen.add(m["id"])
        rows.append(f"| {m.get('name', m['id'])} | {m.get('licence') or m.get('license', '?')}"
                    f" | {m.get('source', '')} |")
    (out / "THIRD-PARTY.md").write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"Licences of {len(rows)} components in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
