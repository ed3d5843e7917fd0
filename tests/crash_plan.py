"""A deterministic sequence of edits shared by the crash worker (which runs them on a real
project) and the crash test (which simulates them to know what must be on disk)."""

from __future__ import annotations

from collections.abc import Iterator

DEPTH, SIZE = 6, 32  # label map shape (k, j, i) = (DEPTH, SIZE, SIZE)


def steps(round_no: int, count: int = 100000) -> Iterator[tuple]:
    """Ops: ('add', id, x) | ('move', id, x) | ('delete', id) | ('paint', k, value) | ('undo',)."""
    live: list[str] = []
    for i in range(count):
        phase = i % 6
        if phase in (0, 1) or not live:
            ann_id = f"r{round_no}-{i}"
            live.append(ann_id)
            yield ("add", ann_id, float(i))
        elif phase == 2:
            yield ("move", live[-1], float(i) + 0.5)
        elif phase == 3:
            yield ("paint", i % DEPTH, (round_no * 7 + i) % 250 + 1)
        elif phase == 4:
            yield ("delete", live.pop(0))
        else:  # undo the previous op if it is an add
            ann_id = f"r{round_no}-{i}"
            live.append(ann_id)
            yield ("add", ann_id, float(i))


def simulate(model: dict, op: tuple) -> None:
    """Apply one op to the in-memory model {'anns': {id: x}, 'paint': {k: value}}."""
    kind = op[0]
    if kind == "add":
        model["anns"][op[1]] = op[2]
    elif kind == "move":
        model["anns"][op[1]] = op[2]
    elif kind == "delete":
        model["anns"].pop(op[1], None)
    elif kind == "paint":
        model["paint"][op[1]] = op[2]
