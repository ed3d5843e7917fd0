"""What the YOLO reader and writer share: the minimal, safe YAML of ``data.yaml``, the
darknet ``obj.data`` config, and the coordinate conventions.

Coordinates: a YOLO label line holds coordinates normalised by the image's width and height
(``x / W``, ``y / H``), continuous like Vellum's own (pixel (c, r) covers [c, c+1) x
[r, r+1)), so boxes, polygons and OBB corners are ``x_px = X * W`` with no shift. Keypoints
follow Ultralytics' COCO converter (``kpt / [w, h]`` of COCO's integer pixel indices): a YOLO
keypoint is ``(x_px - 0.5) / W``, as COCO keypoints are in Vellum (CONVENTIONS.md).

``data.yaml`` is read by a small parser of the flat keys Ultralytics uses (scalars, flow
lists ``[a, b]``, block lists ``- a``, block mappings ``0: a``, flow mappings ``{0: a}``):
no YAML library, no tags, no anchors, nothing executed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from app.core.errors import BadInputError

TASKS = ("detect", "segment", "pose", "obb")
EPS = 1e-3  # how far outside [0, 1] a normalised coordinate may be (rounding of writers)
MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_LABEL_BYTES = 64 * 1024 * 1024
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".dng", ".mpo",
              ".pfm", ".heic")
TASK_COMMENT = "# vellum: task="


# ------------------------------------------------------------------ the YAML subset
def _strip_comment(line: str) -> str:
    """``line`` without a ``#`` comment (outside quotes)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _split_flow(text: str) -> list[str]:
    """Items of a flow list/mapping body (commas outside quotes and brackets)."""
    out, cur, quote, depth = [], "", "", 0
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def scalar(text: str) -> Any:
    """One YAML scalar: quoted string, int, float, bool, null, flow list/mapping, or plain
    string."""
    t = text.strip()
    if not t:
        return None
    if t[0] == '"':
        return json.loads(t)
    if t[0] == "'":
        if len(t) < 2 or t[-1] != "'":
            raise ValueError(f"unclosed quote in {t}")
        return t[1:-1].replace("''", "'")
    if t[0] == "[":
        if t[-1] != "]":
            raise ValueError(f"unclosed list {t}")
        return [scalar(v) for v in _split_flow(t[1:-1])]
    if t[0] == "{":
        if t[-1] != "}":
            raise ValueError(f"unclosed mapping {t}")
        out = {}
        for item in _split_flow(t[1:-1]):
            k, sep, v = item.partition(":")
            if not sep:
                raise ValueError(f"{item} is not key: value")
            out[scalar(k)] = scalar(v)
        return out
    if re.fullmatch(r"[-+]?\d+", t):
        return int(t)
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", t):
        return float(t)
    if t in ("true", "True", "false", "False"):
        return t in ("true", "True")
    if t in ("null", "~", "Null", "NULL"):
        return None
    return t


def parse_yaml(text: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The top-level keys of a flat YAML file, and each key's text as written (to keep keys
    Vellum does not interpret). Raises ``ValueError`` on what it cannot read."""
    data: dict[str, Any] = {}
    raw: dict[str, str] = {}
    key: str | None = None
    block: list[str] = []

    literal = False

    def close() -> None:
        if key is None:
            return
        if literal:  # a block scalar (| or >): its lines as text, indentation removed
            data[key] = "\n".join(b.strip() for b in block) + "\n"
            return
        items = [b for b in block if b.strip()]
        if not items:
            data[key] = None
        elif all(b.lstrip().startswith("- ") or b.strip() == "-" for b in items):
            data[key] = [scalar(b.lstrip()[1:]) for b in items]
        else:
            out = {}
            for b in items:
                k, sep, v = b.strip().partition(":")
                if not sep:
                    raise ValueError(f"line {b.strip()!r} under {key} is not key: value")
                out[scalar(k)] = scalar(v)
            data[key] = out

    for line in text.splitlines():
        if line.strip() in ("---", "..."):
            continue
        if literal and key is not None and (not line.strip() or line[0] in " \t"):
            block.append(line)
            raw[key] += "\n" + line
            continue
        body = _strip_comment(line)
        if not body.strip():
            continue
        if body[0] in " \t-":
            if key is None:
                raise ValueError(f"line {line.strip()!r} belongs to no key")
            block.append(body)
            raw[key] += "\n" + line
            continue
        close()
        key, block, literal = None, [], False
        k, sep, v = body.partition(":")
        if not sep or not k.strip():
            raise ValueError(f"line {line.strip()!r} is not key: value")
        k = str(scalar(k))
        raw[k] = line
        if re.fullmatch(r"[|>][-+]?", v.strip()):
            key, literal = k, True
        elif v.strip():
            data[k] = scalar(v)
        else:
            key = k
    close()
    return data, raw


def load_yaml(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    from app.io.inputs import require_readable

    p = require_readable(path, what="a YOLO data.yaml")
    try:
        if p.stat().st_size > MAX_YAML_BYTES:
            raise BadInputError(f"{p} is not a usable YOLO data.yaml: it is larger than "
                                f"{MAX_YAML_BYTES} bytes.", p)
        return parse_yaml(p.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise BadInputError(f"{p} is not a usable YOLO data.yaml: it is not UTF-8 text.",
                            p) from None
    except (ValueError, RecursionError) as exc:
        raise BadInputError(f"{p} is not a usable YOLO data.yaml ({exc}).", p) from None
    except OSError as exc:
        raise BadInputError(f"Cannot read {p} ({exc.strerror or exc}).", p) from None


def yaml_str(value: str) -> str:
    """``value`` as a YAML double-quoted scalar (JSON strings are YAML)."""
    return json.dumps(value, ensure_ascii=False)


def read_text(path: Path, what: str, limit: int = MAX_LABEL_BYTES) -> str:
    """A small text file (a label file, a list, obj.names) through the input guard."""
    from app.io.inputs import require_readable

    p = require_readable(path, what=what)
    try:
        if p.stat().st_size > limit:
            raise BadInputError(f"{p} is not a usable {what}: it is larger than {limit} "
                                "bytes.", p)
        return p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInputError(f"{p} is not a usable {what}: it is not UTF-8 text.", p) from None
    except OSError as exc:
        raise BadInputError(f"Cannot read {p} ({exc.strerror or exc}).", p) from None


def darknet_config(text: str) -> dict[str, str]:
    """``key = value`` lines of a darknet ``obj.data``."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^\s*(\w+)\s*=\s*(.+?)\s*$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def safe_part(name: str) -> str:
    """A file or folder name made from a project name: no separators, no ``..``."""
    cleaned = re.sub(r"[\\/\x00-\x1f:*?\"<>|]", "_", name).strip()
    if cleaned in ("", ".", ".."):
        cleaned = "_" + cleaned.replace(".", "_")
    return cleaned


def fmt(v: float) -> str:
    """A normalised coordinate as written: six decimals (0.001 px on a 1000 px image)."""
    s = f"{v:.6f}"
    return "0.000000" if s == "-0.000000" else s
