"""Read a YOLO dataset into a project as one command (see :mod:`app.io.yolo`).

Layouts: Ultralytics (``data.yaml`` with ``names``, splits ``train``/``val``/``test`` as
folders ``images/<split>`` or lists of image paths; labels where ``images`` becomes
``labels``) and darknet (``obj.data``, ``obj.names``, ``train.txt`` listing images, each
label file beside its image). Label files are matched to the project's images by their path
under the images folder (the longest tail of a project path), else by stem; ``<video
stem>_<frame:06d>`` names a video frame. Nothing is imported as media. Coordinates as
:mod:`app.io.yolo.common` says; each bad line is one sentence naming file and line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from app.core.annotations import Annotation
from app.core.errors import BadInputError, VellumError
from app.core.media import MediaKind
from app.core.places import Place
from app.io.yolo.common import (EPS, IMAGE_EXTS, TASK_COMMENT, TASKS, darknet_config,
                                load_yaml, read_text)


@dataclass
class _Label:
    path: Path  # the label file
    split: str
    rel: str  # posix path under the images folder, without suffix
    image: Path | None  # the dataset's image file, when it exists
    stem: Path | None = None  # where to look for it (any image extension), when not known


@dataclass
class _Dataset:
    config: Path
    names: dict[int, str]
    labels: list[_Label]
    task: str | None
    kpt_shape: tuple[int, int] | None
    kept: dict[str, Any]


def _names(value: Any, where: Path) -> dict[int, str]:
    if isinstance(value, list):
        out = {i: v for i, v in enumerate(value)}
    elif isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, bool) or not isinstance(k, int) or k < 0:
                raise BadInputError(f"{where}: names has the key {k!r}, not a class index.",
                                    where)
            out[k] = v
    else:
        raise BadInputError(f"{where} has no list or mapping of class names (names:).", where)
    for k, v in out.items():
        if not isinstance(v, (str, int, float)) or not str(v).strip():
            raise BadInputError(f"{where}: class {k} has no usable name.", where)
    return {k: str(v).strip() for k, v in out.items()}


def _label_of(image: Path) -> Path:
    """Ultralytics' rule: the last ``images`` folder of the path becomes ``labels``."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def _rel_under(p: Path, folder: Path) -> str:
    try:
        return PurePosixPath(*p.relative_to(folder).with_suffix("").parts).as_posix()
    except ValueError:
        return PurePosixPath(p.with_suffix("").name).as_posix()


def _image_beside(stem_path: Path) -> Path | None:
    for ext in IMAGE_EXTS:
        for e in (ext, ext.upper()):
            c = stem_path.with_name(stem_path.name + e)
            if c.is_file():
                return c
    return None


def _from_list(lst: Path, base: Path, split: str, darknet: bool) -> list[_Label]:
    out = []
    for line in read_text(lst, "YOLO image list").splitlines():
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        p = Path(name)
        img = p if p.is_absolute() else base / p
        if not img.exists() and not p.is_absolute() and p.parts[:1] == ("data",):
            img = base / Path(*p.parts[1:])  # darknet lists say data/obj_train_data/x.jpg
        label = img.with_suffix(".txt") if darknet else _label_of(img)
        out.append(_Label(label, split, PurePosixPath(p.with_suffix("").name).as_posix(),
                          img if img.is_file() else None))
    return out


def _from_folder(images: Path, split: str) -> list[_Label]:
    labels = _label_of(images / "x.png").parent
    out = []
    if labels.is_dir():
        for f in sorted(labels.rglob("*.txt")):
            rel = _rel_under(f, labels)
            out.append(_Label(f, split, rel, None, images / rel))
    return out


def locate(path: str | Path) -> _Dataset:
    """The dataset at ``path`` (a folder, its data.yaml or its obj.data)."""
    from app.io.inputs import require_readable

    p = require_readable(path, folders=True, what="a YOLO dataset")
    config = p
    if p.is_dir():
        found = [p / n for n in ("data.yaml", "data.yml", "dataset.yaml", "obj.data")
                 if (p / n).is_file()]
        if not found:
            found = sorted(p.glob("*.yaml")) + ([p / "obj.names"] if (p / "obj.names").is_file()
                                                else [])
        if not found:
            raise BadInputError(f"{p} holds no YOLO dataset: no data.yaml, obj.data or "
                                "obj.names.", p)
        config = found[0]
    if config.suffix.lower() in (".yaml", ".yml"):
        return _ultralytics(config)
    if config.suffix.lower() in (".data", ".names"):
        return _darknet(config)
    raise BadInputError(f"{p} is not a YOLO dataset (give its folder, data.yaml or obj.data).",
                        p)


def _ultralytics(config: Path) -> _Dataset:
    data, raw = load_yaml(config)
    if "names" not in data:
        raise BadInputError(f"{config} has no names: (the class names).", config)
    names = _names(data["names"], config)
    base = config.parent
    if isinstance(data.get("path"), str) and data["path"].strip():
        q = Path(data["path"])
        q = q if q.is_absolute() else base / q
        base = q if q.is_dir() else base
    labels: list[_Label] = []
    for split in ("train", "val", "test", "minival"):
        value = data.get(split)
        for entry in (value if isinstance(value, list) else [value] if value else []):
            if not isinstance(entry, str):
                continue
            q = Path(entry)
            q = q if q.is_absolute() else base / q
            if not q.exists() and entry.startswith("../"):  # Roboflow writes ../train/images
                q = base / entry[3:]  # for train/images beside data.yaml (Ultralytics' rule)
            if q.is_file():
                labels += _from_list(q, base, split, darknet=False)
            else:  # the images folder (maybe absent: labels without their images)
                labels += _from_folder(q, split)
    if not any(data.get(s) for s in ("train", "val", "test")) and (base / "labels").is_dir():
        for d in sorted((base / "labels").iterdir()):
            if d.is_dir():
                labels += _from_folder(base / "images" / d.name, d.name)
    if not labels:  # split-first folders (Roboflow: train/images, train/labels)
        for d in sorted(p for p in base.iterdir() if p.is_dir()):
            if (d / "labels").is_dir():
                labels += _from_folder(d / "images", d.name)
    task = None
    try:
        first = read_text(config, "YOLO data.yaml").splitlines()[:1]
    except VellumError:
        first = []
    if first and first[0].startswith(TASK_COMMENT) and first[0][len(TASK_COMMENT):] in TASKS:
        task = first[0][len(TASK_COMMENT):]
    kpt = data.get("kpt_shape")
    kpt_shape = None
    if kpt is not None:
        if not (isinstance(kpt, list) and len(kpt) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) for v in kpt)
                and kpt[0] > 0 and kpt[1] in (2, 3)):
            raise BadInputError(f"{config}: kpt_shape must be [points, 2 or 3], got {kpt!r}.",
                                config)
        kpt_shape = (kpt[0], kpt[1])
    flip = data.get("flip_idx")
    kept: dict[str, Any] = {"yaml": {k: v for k, v in raw.items() if k not in (
        "path", "train", "val", "test", "names", "nc", "kpt_shape", "flip_idx")}}
    if kpt_shape:
        kept["kpt_shape"] = list(kpt_shape)
        if isinstance(flip, list) and len(flip) == kpt_shape[0] and all(
                isinstance(v, int) and 0 <= v < kpt_shape[0] for v in flip):
            kept["flip_idx"] = flip
    if kept["yaml"] == {}:
        del kept["yaml"]
    return _Dataset(config, names, _dedupe(labels), task, kpt_shape, kept)


def _in_base(base: Path, name: str) -> Path:
    """A path an ``obj.data`` gives: as written (relative to its folder), else without its
    first folder (CVAT and datumaro write ``data/train.txt`` for ``train.txt``)."""
    p = Path(name)
    if p.is_absolute():
        return p
    q = base / p
    if not q.exists() and len(p.parts) > 1:
        q = base / Path(*p.parts[1:])
    return q


def _darknet(config: Path) -> _Dataset:
    base = config.parent
    lists: list[tuple[str, Path]] = []
    names_file = config
    if config.suffix.lower() == ".data":
        cfg = darknet_config(read_text(config, "darknet obj.data"))
        for key, value in cfg.items():
            if key in ("classes", "names", "backup", "eval"):
                continue
            q = _in_base(base, value)
            if q.is_file():
                lists.append(("val" if key == "valid" else key, q))
        names_file = _in_base(base, cfg.get("names", "obj.names"))
        if not names_file.is_file():
            names_file = base / "obj.names"
    text = read_text(names_file, "darknet obj.names")
    names = {i: n for i, n in enumerate(n.strip() for n in text.splitlines() if n.strip())}
    if not names:
        raise BadInputError(f"{names_file} lists no class names.", names_file)
    labels: list[_Label] = []
    for split, lst in lists:
        labels += _from_list(lst, base, split, darknet=True)
    if not lists:  # obj.names alone: obj_<split>_data folders, labels beside images
        for d in sorted(base.glob("obj_*_data")):
            split = d.name[4:-5] or "train"
            for f in sorted(d.rglob("*.txt")):
                labels.append(_Label(f, split, _rel_under(f, d), None, f.with_suffix("")))
    return _Dataset(config, names, _dedupe(labels), None, None, {})


def _dedupe(labels: list[_Label]) -> list[_Label]:
    seen: set[Path] = set()
    out = []
    for lb in labels:
        key = lb.path.absolute()
        if key not in seen:
            seen.add(key)
            out.append(lb)
    return out


# ------------------------------------------------------------------ matching
class _Matcher:
    def __init__(self, doc: Any) -> None:
        self.tails: dict[str, list[Any]] = {}
        self.videos: dict[str, list[Any]] = {}
        for m in doc.media():
            if m.kind is MediaKind.IMAGE:
                parts = PurePosixPath(m.path).with_suffix("").parts
                for i in range(len(parts)):
                    self.tails.setdefault("/".join(parts[i:]).lower(), []).append(m)
            elif m.kind is MediaKind.VIDEO:
                from app.io.yolo.common import safe_part

                stem = safe_part(PurePosixPath(m.file_name).stem).lower()
                self.videos.setdefault(stem, []).append(m)

    def place(self, rel: str) -> tuple[Any, int | None] | list[Any] | str:
        """(item, frame) for an image path under the images folder, or why not."""
        parts = rel.lower().split("/")
        for i in range(len(parts)):
            got = self.tails.get("/".join(parts[i:]), [])
            if len(got) == 1:
                return got[0], None
            if len(got) > 1 and i == len(parts) - 1:
                return got  # several: the caller picks the one no other label file claims
        m = re.fullmatch(r"(.+)_(\d{6,})", parts[-1])
        if m and len(self.videos.get(m.group(1), [])) == 1:
            video = self.videos[m.group(1)][0]
            if int(m.group(2)) < video.frames:
                return video, int(m.group(2))
        return "missing"


# ------------------------------------------------------------------ lines
def _bad(path: Path, n: int, why: str) -> BadInputError:
    return BadInputError(f"{path} line {n}: {why}.", path)


def _numbers(path: Path, n: int, tokens: list[str]) -> list[float]:
    try:
        vals = [float(t) for t in tokens]
    except ValueError:
        raise _bad(path, n, "is not a class index followed by numbers") from None
    if not all(math.isfinite(v) for v in vals):
        raise _bad(path, n, "holds a number that is not finite")
    return vals


def _check_range(path: Path, n: int, vals: list[float]) -> None:
    for v in vals:
        if not -EPS <= v <= 1 + EPS:
            raise _bad(path, n, f"has the coordinate {v:g}, outside [0, 1] (YOLO coordinates "
                       "are normalised by the image size)")


class Reader:
    def __init__(self, ds: _Dataset, task: str, notes: list[str]) -> None:
        self.ds, self.task, self.notes = ds, task, notes
        self.polygons_from_obb = 0

    def shapes(self, lb: _Label, w: int, h: int) -> list[tuple[int, Any, dict[str, Any]]]:
        """(class index, shape, foreign) of each line of ``lb``."""
        from app.core.shapes import Keypoints, Polygon

        text = read_text(lb.path, "YOLO label file")
        out = []
        kpt = self.ds.kpt_shape
        for n, line in enumerate(text.splitlines(), start=1):
            tokens = line.split()
            if not tokens:
                continue
            if not re.fullmatch(r"\d+", tokens[0]):
                raise _bad(lb.path, n, f"starts with {tokens[0][:20]!r}, not a class index")
            cls = int(tokens[0])
            if cls not in self.ds.names:
                raise _bad(lb.path, n, f"has class {cls}, which {self.ds.config.name} does not "
                           f"name (it names {len(self.ds.names)} classes)")
            vals = _numbers(lb.path, n, tokens[1:])
            foreign: dict[str, Any] = {}
            if kpt and len(vals) == 4 + kpt[0] * kpt[1] and self.task in (None, "pose"):
                _check_range(lb.path, n, vals[:4])
                k, d = kpt
                pts = []
                for i in range(k):
                    x, y = vals[4 + i * d], vals[5 + i * d]
                    v = vals[6 + i * d] if d == 3 else (0 if x == 0 and y == 0 else 2)
                    if v not in (0, 1, 2):
                        raise _bad(lb.path, n, f"has keypoint visibility {v:g}, not 0, 1 or 2")
                    if v:
                        _check_range(lb.path, n, [x, y])
                        pts.append((x * w + 0.5, y * h + 0.5, int(v)))
                    else:
                        pts.append((x * w, y * h, 0))
                shape: Any = Keypoints(tuple(pts), box=_box(vals[:4], w, h))
            elif len(vals) == 4:
                _check_range(lb.path, n, vals)
                if vals[2] < 0 or vals[3] < 0:
                    raise _bad(lb.path, n, "has a box of negative width or height")
                shape = _box(vals, w, h)
            elif len(vals) >= 6 and len(vals) % 2 == 0:
                _check_range(lb.path, n, vals)
                ring = [(vals[i] * w, vals[i + 1] * h) for i in range(0, len(vals), 2)]
                shape = Polygon(tuple(ring))
                if len(vals) == 8 and self.task != "segment":
                    rb = _rotated(ring)
                    shape = rb if rb is not None else shape
                    if rb is None:
                        self.polygons_from_obb += 1
                    foreign = {"yolo": {"obb": " ".join(tokens[1:]),
                                        "shape": shape.to_json()}}
            else:
                raise _bad(lb.path, n, f"has {len(vals)} numbers after the class; YOLO lines "
                           "hold 4 (a box), 8 (a rotated box), an even number of 6 or more "
                           "(a polygon)" + (f" or {4 + kpt[0] * kpt[1]} (a pose)" if kpt else ""))
            out.append((cls, shape, foreign))
        return out


def _box(vals: list[float], w: int, h: int) -> Any:
    from app.core.shapes import Box

    cx, cy, bw, bh = vals
    return Box((cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h)


def _rotated(ring: list[tuple[float, float]]) -> Any:
    """The rotated box whose corners ``ring`` lists (in either turning order), or None when
    the four points are no rectangle (to 0.1 % of its size)."""
    from app.core.shapes import RotatedBox

    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = ring
    w = math.hypot(x1 - x0, y1 - y0)
    h = math.hypot(x2 - x1, y2 - y1)
    if w <= 0 or h <= 0:
        return None
    cx, cy = (x0 + x2) / 2, (y0 + y2) / 2
    tol = 1e-3 * max(w, h)
    if math.hypot((x1 + x3) / 2 - cx, (y1 + y3) / 2 - cy) > tol or abs(
            (x1 - x0) * (x2 - x1) + (y1 - y0) * (y2 - y1)) > tol * max(w, h):
        return None
    angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
    cross = (x1 - x0) * (y2 - y1) - (y1 - y0) * (x2 - x1)
    if cross < 0:  # turning the other way: the box from corner 1 along the short side
        angle = math.degrees(math.atan2(y0 - y3, x0 - x3))
        w, h = h, w
    return RotatedBox(cx, cy, w, h, angle)


def plan_yolo(doc: Any, path: str | Path, *, task: str | None = None, progress: Any = None,
              cancelled: Any = None, notes: list[str] | None = None) -> tuple[Any, dict]:
    """The one command importing the YOLO dataset at ``path`` into ``doc``, and a report."""
    from dataclasses import replace

    from app.core.commands import Batch, Put, SetSchema
    from app.core.schema import PALETTE, LabelClass, Skeleton

    notes = notes if notes is not None else []
    progress = progress or (lambda *a, **k: None)
    cancelled = cancelled or (lambda: False)
    ds = locate(path)
    task = task if task in TASKS else ds.task
    schema = doc.schema
    new_classes = 0
    ids: dict[int, str] = {}
    for i, name in sorted(ds.names.items()):
        cls = schema.class_by_name(name)
        if cls is None:
            cls = LabelClass(name, PALETTE[len(schema.classes) % len(PALETTE)])
            new_classes += 1
        if ds.kpt_shape:
            k = ds.kpt_shape[0]
            if cls.skeleton is None:
                cls = replace(cls, skeleton=Skeleton(tuple(f"p{j}" for j in range(k))))
            elif len(cls.skeleton.points) != k:
                raise BadInputError(f"{ds.config}: kpt_shape says {k} keypoints, but class "
                                    f"{name!r} of the project has {len(cls.skeleton.points)}.",
                                    ds.config)
        schema = schema.with_class(cls)
        ids[i] = cls.id
    if ds.kept:
        foreign = dict(schema.foreign)
        foreign["yolo"] = ds.kept
        schema = replace(schema, foreign=foreign)
    from app.core.identity import author, utc_now

    who, when = author(), utc_now()  # one import: one author and time (not one per shape)
    matcher = _Matcher(doc)
    reader = Reader(ds, task, notes)
    anns: list[Annotation] = []
    missing: list[_Label] = []
    ambiguous = matched = 0
    places = [matcher.place(lb.rel) for lb in ds.labels]
    claimed = {p[0].id for p in places if isinstance(p, tuple)}
    for n, (lb, got) in enumerate(zip(ds.labels, places)):
        if cancelled():
            raise VellumError(f"Import of {path} was cancelled; nothing was changed.", path)
        progress(n, len(ds.labels), lb.rel)
        if got == "missing":
            missing.append(lb)
            continue
        if isinstance(got, list):  # one file name, several project images
            free = [m for m in got if m.id not in claimed]
            if len(free) != 1:
                ambiguous += 1
                continue
            got = (free[0], None)
            claimed.add(free[0].id)
        item, frame = got
        matched += 1
        try:
            shapes = reader.shapes(lb, item.width, item.height)
        except ValueError as exc:
            raise BadInputError(f"{lb.path} holds a shape Vellum cannot hold ({exc}).",
                                lb.path) from None
        for cls, shape, foreign in shapes:
            anns.append(Annotation(place=Place(item.id, frame), shape=shape,
                                   class_id=ids[cls], foreign=foreign, creator=who,
                                   created=when))
    progress(len(ds.labels), len(ds.labels))
    if not ds.labels:
        raise BadInputError(f"{path} holds no label files (labels/<split>/*.txt).", path)
    if not matched:
        raise BadInputError(f"None of the {len(ds.labels)} label files of {path} belongs to an "
                            "image of the project (they are matched by file name); add the "
                            "images first.", path)
    if missing:
        have = sum(1 for lb in missing if lb.image is not None
                   or (lb.stem is not None and _image_beside(lb.stem) is not None))
        notes.append(f"{len(missing)} label file(s) name no image of the project (e.g. "
                     f"{missing[0].path}); their shapes were not imported"
                     + (f"; {have} of their images are in the dataset folder: add them to the "
                        "project and import again" if have else "") + ".")
    if ambiguous:
        notes.append(f"{ambiguous} label file(s) match several images of the project by name "
                     "and were not imported.")
    if reader.polygons_from_obb:
        notes.append(f"{reader.polygons_from_obb} four-corner line(s) are no rectangle and "
                     "became polygons (their corners are kept for an obb export).")
    steps = ([SetSchema(schema)] if schema != doc.schema else []) + [
        Put(tuple(anns), label=f"Import {Path(path).name}")]
    report = {"annotations": len(anns), "files": matched, "classes": new_classes,
              "missing": len(missing)}
    return Batch(tuple(steps), label=f"Import YOLO {Path(path).name}"), report
