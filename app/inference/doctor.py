"""``vellum models doctor`` and ``vellum models list``: what runs where, what failed and why.

Plain data (dicts) so the CLI prints it and a model manager dialog can show the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.errors import ModelError
from app.inference.manifest import bundled_manifests
from app.inference.packs import (InstalledPack, folder_unwritable, installed_packs, models_dir,
                                 models_dir_variable)
from app.inference.runtime import Runtime, default_runtime, runtime_packages, telemetry_status


def pack_entry(pack: InstalledPack, runtime: Runtime) -> dict[str, Any]:
    """One ``models list`` entry: id, task, files, licence, provider (and a few more)."""
    m = pack.manifest
    provider = runtime.preferred()[0]
    return {"id": m.id, "name": m.name, "task": m.task, "family": m.family,
            "licence": m.licence, "source": m.source, "provider": provider,
            "device": runtime.device(), "complete": pack.complete, "missing": pack.missing,
            "folder": str(pack.folder), "hashes_from": m.origin,
            "files": [{"role": role, "name": rec["name"], "sha256": rec["sha256"],
                       "installed_sha256": rec.get("installed_sha256"),
                       "bytes": rec.get("bytes"), "edit": rec.get("edit")}
                      for role, rec in pack.files.items()]}


def list_models(root: Path | None = None, runtime: Runtime | None = None) -> dict[str, Any]:
    runtime = runtime or default_runtime()
    root = root or models_dir()
    packs, errors = installed_packs(root)
    installed = {p.id for p in packs}
    return {"models_dir": str(root), "models": [pack_entry(p, runtime) for p in packs],
            "errors": errors,
            "importable": sorted(i for i in bundled_manifests() if i not in installed)}


def _open_pack(pack: InstalledPack, runtime: Runtime) -> dict[str, str]:
    """Open each file of a pack on the runtime: role -> device (or the error sentence)."""
    out = {}
    for role in pack.files:
        try:
            session = runtime.session(pack.path(role), label=f"The {pack.id} {role}",
                                      sha256=pack.files[role].get("installed_sha256"))
            out[role] = session.device + (f" (fell back: {session.fallback})"
                                          if session.fallback else "")
        except ModelError as exc:
            out[role] = f"error: {exc}"
    return out


def doctor(root: Path | None = None, runtime: Runtime | None = None,
           open_models: bool = True) -> dict[str, Any]:
    """The full report: runtime packages (and shadowing), providers probed, the model folder,
    every installed pack verified (hashes) and, with ``open_models``, the device each file
    really runs on."""
    runtime = runtime or default_runtime()
    root = root or models_dir()
    packages = runtime_packages()
    warnings = []
    if len(packages) > 1:
        warnings.append(f"{' and '.join(p.split()[0] for p in packages)} are installed together: "
                        "they share the 'onnxruntime' import name and shadow each other; keep "
                        "exactly one (pip uninstall the others, then reinstall the one kept).")
    if not packages:
        warnings.append("No onnxruntime package is installed: AI assistance is unavailable.")
    why = folder_unwritable(root)  # really written to: os.access is wrong for root, mounts
    folder = {"path": str(root), "exists": root.is_dir(), "writable": why is None,
              "why": why or "", "variable": models_dir_variable()}
    packs, errors = installed_packs(root)
    report_packs = []
    for pack in packs:
        problems = pack.problems(deep=True)
        entry = {"id": pack.id, "task": pack.manifest.task, "complete": pack.complete,
                 "verified": not problems, "problems": problems}
        if open_models and not problems:
            entry["devices"] = _open_pack(pack, runtime)
        report_packs.append(entry)
    providers = [{"name": s.name, "device": s.device, "ok": s.ok, "reason": s.reason}
                 for s in runtime.providers()]
    telemetry = telemetry_status()
    if not telemetry["off"]:
        warnings.append(f"ONNX Runtime telemetry may be on: {telemetry['detail']}.")
    return {"packages": packages, "warnings": warnings, "providers": providers,
            "preferred": runtime.preferred(), "device": runtime.device(),
            "options": {"threads": runtime.options.threads,
                        "optimization": runtime.options.optimization,
                        "cache_dir": str(runtime.options.cache_dir or "")},
            "models_dir": folder, "packs": report_packs, "errors": errors,
            "telemetry": telemetry}


def doctor_ok(report: dict[str, Any]) -> bool:
    return not report["warnings"] and not report["errors"] and all(
        p["verified"] and p["complete"] for p in report["packs"])


def format_doctor(report: dict[str, Any]) -> list[str]:
    lines = [f"onnxruntime: {', '.join(report['packages']) or 'not installed'}"]
    lines += [f"warning: {w}" for w in report["warnings"]]
    lines.append("execution providers:")
    for p in report["providers"]:
        state = "works" if p["ok"] else f"not used: {p['reason']}"
        lines.append(f"  {p['device']:<16} {p['name']:<28} {state}")
    lines.append(f"models run on: {report['device']}")
    t = report["telemetry"]
    lines.append(f"telemetry: {'off' if t['off'] else 'NOT OFF'} ({t['detail']})")
    if t["deviceid"]:
        lines.append(f"  {t['deviceid']} was left by an earlier onnxruntime run outside "
                     "Vellum (Vellum never writes it); delete it if you like.")
    f = report["models_dir"]
    lines.append(f"model folder: {f['path']}"
                 + ("" if f["exists"] or not f["writable"] else " (not created yet)")
                 + ("" if f["writable"] else f" (not writable: {f.get('why') or 'denied'}; set "
                    f"{f.get('variable') or 'VELLUM_MODELS_DIR'} to a writable folder to move "
                    "it)"))
    if not report["packs"]:
        lines.append("installed packs: none (import them with 'vellum models import PATH')")
    for p in report["packs"]:
        state = "verified" if p["verified"] and p["complete"] else "PROBLEM"
        lines.append(f"  {p['id']:<16} {p['task']:<8} {state}")
        lines += [f"    {problem}" for problem in p["problems"]]
        for role, device in (p.get("devices") or {}).items():
            lines.append(f"    {role}: {device}")
    lines += [f"  {e}" for e in report["errors"]]
    return lines
