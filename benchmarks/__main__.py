"""``python -m benchmarks [NAME ...]``: run every benchmark (or the named ones) and print our
figures beside a peer's measured in the same run. Nothing here is a pass/fail test."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path

from benchmarks.report import print_table

# Every ``benchmarks/*_bench.py`` module with a ``run()`` returning table rows.
BENCHMARKS = tuple(sorted(p.stem for p in Path(__file__).parent.glob("*_bench.py")))


def main(names: list[str]) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if any(n in ("-h", "--help") for n in names):
        print(__doc__.strip())
        print("Benchmarks: " + ", ".join(b.removesuffix("_bench") for b in BENCHMARKS))
        return 0
    unknown = [n for n in names if n.removesuffix("_bench") + "_bench" not in BENCHMARKS]
    if unknown:
        print(f"No benchmark named {', '.join(unknown)}; there are: "
              + ", ".join(b.removesuffix("_bench") for b in BENCHMARKS) + ".", file=sys.stderr)
        return 2
    failed = 0
    for name in names or BENCHMARKS:
        module = name if name.endswith("_bench") else f"{name}_bench"
        try:
            rows = importlib.import_module(f"benchmarks.{module}").run()
        except Exception:  # report and go on with the others
            traceback.print_exc()
            failed += 1
            continue
        print_table(module, rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
