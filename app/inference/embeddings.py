"""Image embeddings and their cache: in memory (LRU by count) and optionally on disk (LRU by
total size), keyed by (image content, place, model id).

The :class:`~app.core.places.Place` says where the image came from when content alone is
ambiguous or when the caller wants separate entries: ``Place(id, frame=120)`` for a video
frame, ``Place(id, axis="k", index=40)`` for slice 40 along a volume's k axis, ``Place(id)`` or
None for a still image. The content key is a hash of the pixels (or one the caller already has,
e.g. the media fingerprint, plus the window of a volume slice).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.places import Place
from app.inference.sam_families import Frame

CACHE_FORMAT = 2  # 2: places as Place values (1 named them "k:40" / "<id>:<frame>")


def content_key(image: np.ndarray) -> str:
    """A hash of an image's pixels, shape and dtype (BLAKE2b, 128 bits)."""
    a = np.ascontiguousarray(image)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{a.shape}|{a.dtype}".encode())
    digest.update(memoryview(a).cast("B"))
    return digest.hexdigest()


def place_token(place: Place | None) -> str:
    """The place's part of a cache key: its JSON form with sorted keys ("" for None)."""
    import json

    return "" if place is None else json.dumps(place.to_json(), sort_keys=True)


def cache_key(model_id: str, content: str, place: Place | None = None) -> str:
    return hashlib.sha256(
        f"{CACHE_FORMAT}|{model_id}|{content}|{place_token(place)}".encode()).hexdigest()


@dataclass(frozen=True)
class Embedding:
    """An encoder's outputs for one image (arrays by output name, batch axis kept) and the
    frame that maps original pixels to the model's input."""

    model_id: str
    key: str
    frame: Frame
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())


def default_cache_folder() -> Path:
    """``$VELLUM_CACHE_DIR`` or ``$XDG_CACHE_HOME/vellum`` (``~/.cache/vellum``), then
    ``embeddings``."""
    base = os.environ.get("VELLUM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "vellum")
    return Path(base) / "embeddings"


class EmbeddingCache:
    """Thread-safe LRU of embeddings; ``folder`` (optional) keeps them across runs, pruned to
    ``max_bytes`` by least recent use."""

    def __init__(self, memory_items: int = 16, folder: Path | None = None,
                 max_bytes: int = 2 << 30) -> None:
        self.memory_items = max(1, memory_items)
        self.folder = Path(folder) if folder else None
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, Embedding] = OrderedDict()
        self._lock = threading.Lock()
        self._puts = 0

    def __contains__(self, key: str) -> bool:
        with self._lock:
            if key in self._items:
                return True
        return bool(self.folder and self._file(key).is_file())

    def _file(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.npz"

    def get(self, key: str) -> Embedding | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        if self.folder is None:
            return None
        hit = self._load(key)
        if hit is not None:
            self._remember(hit)
        return hit

    def put(self, embedding: Embedding) -> None:
        self._remember(embedding)
        if self.folder is not None:
            self._store(embedding)

    def clear_memory(self) -> None:
        with self._lock:
            self._items.clear()

    def _remember(self, embedding: Embedding) -> None:
        with self._lock:
            self._items[embedding.key] = embedding
            self._items.move_to_end(embedding.key)
            while len(self._items) > self.memory_items:
                self._items.popitem(last=False)

    def _load(self, key: str) -> Embedding | None:
        path = self._file(key)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = data["__frame__"].astype(int).tolist()
                model_id = str(data["__model__"])
                arrays = {k: data[k] for k in data.files if not k.startswith("__")}
            os.utime(path)
        except (OSError, ValueError, KeyError):
            return None
        frame = Frame((meta[0], meta[1]), (meta[2], meta[3]), meta[4])
        return Embedding(model_id, key, frame, arrays)

    def _store(self, embedding: Embedding) -> None:
        path = self._file(embedding.key)
        f = embedding.frame
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as out:
                np.savez(out, __frame__=np.array([*f.original, *f.resized, f.side]),
                         __model__=np.array(embedding.model_id), **embedding.arrays)
            os.replace(tmp, path)
        except OSError:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            return  # a full or read-only disk only costs speed
        self._puts += 1
        if self._puts % 16 == 1:
            self.prune()

    def prune(self) -> None:
        """Delete the least recently used files until the folder is under ``max_bytes``."""
        if self.folder is None or not self.folder.is_dir():
            return
        files = []
        for path in self.folder.glob("*/*.npz"):
            try:
                st = path.stat()
            except OSError:
                continue
            files.append((st.st_mtime, st.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
