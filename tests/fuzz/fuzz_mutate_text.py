"""Seeded mutations of text formats: JSON trees (wrong types for any key, missing keys, huge
numbers, NaN, duplicated ids and keys, 100,000-deep nesting, odd names, invalid UTF-8) and MOT
lines with their labels.txt. Each returns the new bytes and what was done, in words."""

from __future__ import annotations

import json
import random

from fuzz_mutate import mutate_bytes


# --- JSON ------------------------------------------------------------------------------------

class Raw:
    """A JSON token written as is (NaN, 1e999, a 400-digit integer)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _paths(node, path=()):  # every (path, value) in a JSON tree, the root first
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, path + (i,))


def _get(tree, path):
    for p in path:
        tree = tree[p]
    return tree


def _set(tree, path, value):
    if not path:
        return value
    _get(tree, path[:-1])[path[-1]] = value
    return tree


def odd_names(rng: random.Random) -> str | bytes:
    """A name for a file_name / manifest name / segment name: traversal, absolute, invalid
    UTF-8 (bytes), very long, control characters, Windows forms."""
    return rng.choice([
        "../../../../etc/passwd", "../outside.png", "/etc/hostname", "/dev/zero", "/",
        "", ".", "..", "a" * 5000 + ".png", "x/" * 300 + "y.png", "name\nwith\nnewlines.png",
        "tab\there.png", "nul\0byte.png", "C:\\Windows\\win.ini", "\\\\server\\share\\x.png",
        "äöü 漢字 🙂.png", "\u202egnp.exe", "con.png", " spaced .png", "-rf.png",
        b"bad-\xff\xfe-utf8.png", b"\xc3\x28.png", "%s%s%n.png", "file:///etc/passwd",
    ])


def _wrong_type(v, rng: random.Random):
    options = [None, True, 0, -1, 1.5, "", "x", "0", [], [1, 2], {}, {"a": 1},
               Raw("1e999"), Raw("-1e999"), Raw("NaN"), Raw("Infinity"), Raw("9" * 400),
               2 ** 63, -2 ** 63 - 1, 1e308, [[[[]]]], "\ud800", [None], {"": None}]
    return rng.choice([o for o in options if type(o) is not type(v)] or options)


def dumps(tree, rng: random.Random | None = None) -> bytes:
    """JSON text of a tree that may hold :class:`Raw` tokens and bytes (written raw, so a
    file can hold invalid UTF-8)."""
    marks: dict[str, bytes] = {}

    def enc(o):
        if isinstance(o, Raw):
            key = f"@@RAW{len(marks)}@@"
            marks[key] = o.text.encode()
            return key
        if isinstance(o, bytes):
            key = f"@@RAW{len(marks)}@@"
            marks[key] = b'"' + o.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
            return key
        if isinstance(o, dict):
            return {(k.decode("latin-1") if isinstance(k, bytes) else k): enc(v)
                    for k, v in o.items()}
        if isinstance(o, list):
            return [enc(v) for v in o]
        return o

    text = json.dumps(enc(tree), allow_nan=True, ensure_ascii=rng is None or rng.random() < 0.5)
    data = text.encode("utf-8", "surrogatepass")
    for key, raw in marks.items():
        data = data.replace(f'"{key}"'.encode(), raw)
    return data


def deep(depth: int, kind: str = "list") -> Raw:
    return Raw(("[" * depth + "]" * depth) if kind == "list" else
               ('{"a":' * depth + "1" + "}" * depth))


def mutate_json(tree, rng: random.Random, name_keys=("file_name", "name", "path")) -> tuple[
        bytes, str]:
    """One structural mutation of a parsed JSON document (a fresh copy is changed)."""
    tree = json.loads(json.dumps(tree))
    nodes = list(_paths(tree))
    op = rng.choices(["type", "delete", "huge", "dup", "deep", "name", "top", "empty_list",
                      "bytes", "dup_key"], weights=(6, 3, 3, 2, 2, 3, 1, 1, 2, 1))[0]
    if op == "type":
        path, v = rng.choice(nodes[1:] or nodes)
        new = _wrong_type(v, rng)
        tree = _set(tree, path, new)
        return dumps(tree, rng), f"{_where(path)} set to {_show(new)}"
    if op == "delete":
        keyed = [p for p, _ in nodes if p and isinstance(p[-1], str)]
        if keyed:
            path = rng.choice(keyed)
            del _get(tree, path[:-1])[path[-1]]
            return dumps(tree, rng), f"{_where(path)} removed"
    if op == "huge":
        nums = [(p, v) for p, v in nodes if isinstance(v, (int, float)) and not isinstance(
            v, bool)] or nodes[1:]
        path, _ = rng.choice(nums)
        new = rng.choice([Raw("1e308"), Raw("-1e308"), Raw("1e999"), Raw("NaN"),
                          Raw("-Infinity"), 2 ** 64, -(2 ** 63), Raw("9" * 5000), 0, -1,
                          2 ** 31, 1e-320])
        tree = _set(tree, path, new)
        return dumps(tree, rng), f"{_where(path)} set to {_show(new)}"
    if op == "dup":
        lists = [(p, v) for p, v in nodes if isinstance(v, list) and v]
        if lists:
            path, v = rng.choice(lists)
            i = rng.randrange(len(v))
            v.insert(rng.randrange(len(v) + 1), json.loads(json.dumps(v[i])))
            return dumps(tree, rng), f"{_where(path)}[{i}] duplicated (same ids)"
    if op == "deep":
        depth = rng.choice((1000, 10_000, 100_000))
        path, _ = rng.choice(nodes)
        tree = _set(tree, path, deep(depth, rng.choice(("list", "dict"))))
        return dumps(tree, rng), f"{_where(path)} replaced by {depth}-deep nesting"
    if op == "name":
        named = [p for p, v in nodes if p and p[-1] in name_keys and isinstance(v, str)]
        if named:
            path = rng.choice(named)
            new = odd_names(rng)
            tree = _set(tree, path, new)
            return dumps(tree, rng), f"{_where(path)} set to {_show(new)}"
    if op == "top":
        new = rng.choice([[], None, 0, "x", [tree], deep(100_000)])
        return dumps(new, rng), f"top level replaced by {_show(new)}"
    if op == "empty_list":
        lists = [p for p, v in nodes if isinstance(v, list)]
        if lists:
            path = rng.choice(lists)
            tree = _set(tree, path, [])
            return dumps(tree, rng), f"{_where(path)} emptied"
    if op == "dup_key":
        text = dumps(tree, rng)
        i = text.find(b"{")
        if i >= 0:
            return text[:i + 1] + b'"id": 1, "id": "x", ' + text[i + 1:], "duplicate keys"
    data, what = mutate_bytes(dumps(tree, rng), rng)
    return data, "JSON text: " + what


def _where(path) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _show(v) -> str:
    if isinstance(v, Raw):
        return v.text[:24] + ("..." if len(v.text) > 24 else "")
    s = repr(v)
    return s[:40] + ("..." if len(s) > 40 else "")


# --- MOT text --------------------------------------------------------------------------------

def mutate_mot(text: str, rng: random.Random) -> tuple[bytes, str]:
    lines = text.splitlines()
    op = rng.choice(("field", "field", "field", "drop_fields", "extra_fields", "binary",
                     "long_line", "dup_line", "frames", "bytes", "separator"))
    i = rng.randrange(len(lines))
    fields = lines[i].split(",")
    if op == "field":
        k = rng.randrange(len(fields))
        fields[k] = rng.choice(("nan", "inf", "-inf", "1e308", "-1", "0", "", " ", "x",
                                "9" * 400, "2147483648", "-2147483649", "1e-320", "0x10",
                                "1_000", "１", "\x00", "3.5"))
        lines[i] = ",".join(fields)
        what = f"line {i + 1} field {k + 1} set to {fields[k][:12]!r}"
    elif op == "drop_fields":
        lines[i] = ",".join(fields[:rng.randrange(len(fields))])
        what = f"line {i + 1} cut to {lines[i].count(',') + 1} fields"
    elif op == "extra_fields":
        lines[i] = ",".join(fields + ["1"] * rng.choice((1, 5, 1000)))
        what = f"line {i + 1} given extra fields"
    elif op == "binary":
        return (("\n".join(lines[:i]) + "\n").encode() + rng.randbytes(rng.choice((3, 200)))
                + ("\n".join(lines[i:])).encode(), f"binary bytes before line {i + 1}")
    elif op == "long_line":
        lines[i] = lines[i] + "," + "9" * rng.choice((10_000, 1_000_000))
        what = f"line {i + 1} made very long"
    elif op == "dup_line":
        lines.insert(i, lines[i])
        what = f"line {i + 1} repeated (same frame and id)"
    elif op == "frames":
        for j in range(len(lines)):
            f = lines[j].split(",")
            f[0] = str(rng.choice((0, -1, 10 ** 9, 2 ** 31 - 1)))
            lines[j] = ",".join(f)
            if rng.random() < 0.5:
                break
        what = "frame numbers set to extremes"
    elif op == "separator":
        lines = [ln.replace(",", rng.choice((";", "\t", " ", ",,"))) for ln in lines]
        what = "separator changed"
    else:
        return mutate_bytes(text.encode(), rng)
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"), what


def mutate_labels(text: str, rng: random.Random) -> tuple[bytes, str]:
    """labels.txt beside a MOT file: binary, invalid UTF-8, huge, empty lines, odd names."""
    op = rng.choice(("binary", "utf8", "huge", "blank", "names", "bytes"))
    if op == "binary":
        return rng.randbytes(rng.choice((16, 4096))), "labels.txt replaced by binary bytes"
    if op == "utf8":
        return b"car\n\xff\xfe\xc3\x28\n" + text.encode(), "labels.txt with invalid UTF-8"
    if op == "huge":
        return ("x" * 1_000_000 + "\n").encode() * 3, "labels.txt with 1 MB lines"
    if op == "blank":
        return b"\n\n\n" + text.encode(), "labels.txt with blank lines first"
    if op == "names":
        return ("../../etc/passwd\n\x00\n" + "a" * 300 + "\n").encode(), "labels.txt odd names"
    data, what = mutate_bytes(text.encode(), rng)
    return data, "labels.txt: " + what
