"""Runs crash_plan edits on a project forever, printing 'done N' after each command returns.
Usage: python crash_worker.py PROJECT ROUND"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from crash_plan import SIZE, steps  # noqa: E402

from app.core.annotations import Annotation  # noqa: E402
from app.core.commands import ModifyLabelMap, Put, Remove  # noqa: E402
from app.core.document import Document  # noqa: E402
from app.core.places import Place  # noqa: E402
from app.core.shapes import Box  # noqa: E402


def main() -> None:
    doc = Document.open(sys.argv[1])
    round_no = int(sys.argv[2])
    media_id = doc.media()[0].id
    lm = doc.labelmaps(media_id)[0]
    slice0 = Place(media_id, axis="k", index=0)
    print("ready", flush=True)
    for n, op in enumerate(steps(round_no)):
        if op[0] == "add":
            doc.execute(Put((Annotation(place=slice0, shape=Box(op[2], 0, 1, 1),
                                                   id=op[1]),)))
        elif op[0] == "move":
            a = doc.annotation(media_id, op[1])
            doc.execute(Put((doc.edited(a, shape=Box(op[2], 0, 1, 1)),)))
        elif op[0] == "delete":
            doc.execute(Remove((doc.annotation(media_id, op[1]),)))
        elif op[0] == "paint":
            k = op[1]
            doc.execute(ModifyLabelMap(lm.id, (k, 0, 0), np.ones((1, SIZE, SIZE), bool),
                                       value=op[2]))
        print(f"done {n}", flush=True)


if __name__ == "__main__":
    main()
