"""``vellum self-test [--json] [--quick]``: the checks of :mod:`app.selftest` as a table
(or a JSON list); exit status 0 only when every check passed, 3 when one failed."""

from __future__ import annotations

import argparse
import json
import sys

from app.cli_registry import CommandRegistry

EXIT_OK, EXIT_PROBLEMS = 0, 3
PROBE_FLAG_ARG = "--qt-probe"  # the Qt check's child process (app.selftest.system_checks)


def cmd_self_test(args: argparse.Namespace) -> int:
    from app.selftest import all_passed, format_table, run_self_test
    from app.selftest.system_checks import qt_probe

    if args.qt_probe:  # the child process of the Qt check
        print(json.dumps({"done": qt_probe()}), flush=True)
        return EXIT_OK
    from app.progress import terminal_progress

    with terminal_progress("Self-test", unit="check") as progress:
        checks = run_self_test(quick=args.quick, progress=progress)
    if args.json:
        json.dump([c.to_json() for c in checks], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print("\n".join(format_table(checks)))
    return EXIT_OK if all_passed(checks) else EXIT_PROBLEMS


def register(cli: CommandRegistry) -> None:
    p = cli.command(
        "self-test", cmd_self_test, "check that this machine can run Vellum (offline)",
        "Make sample media (an image, an H.264 video with B-frames, DICOM series plain and "
        "compressed, NIfTI) and open each with Vellum's readers; write and read back COCO, "
        "MOT and NIfTI exports; run a tiny built-in ONNX graph and each installed model once; "
        "check the Qt platform plugin and fonts, that the data and model folders are "
        "writable, that telemetry is off and that no network socket opens. Prints a table "
        "(check, result, device, time in ms). Exit status 0 when every check passed, 3 when "
        "one failed. Nothing of yours is read or changed; the samples are removed.")
    p.add_argument("--json", action="store_true", help="print the checks as a JSON list "
                   "(check, result, ok, device, ms, detail)")
    p.add_argument("--quick", action="store_true", help="do not run the installed models "
                   "(check that their files are there); everything else runs")
    p.add_argument(PROBE_FLAG_ARG, dest="qt_probe", action="store_true",
                   help=argparse.SUPPRESS)

