"""Where prepared display proxies live on disk, and the two files that make one.

Layout: ``<cache>/video-proxy/<fingerprint hex>/`` (the same content fingerprint as the frame
index, :func:`app.core.media.fingerprint`), holding

* ``manifest.json``: format version, fingerprint, source frame count and displayed size,
  proxy size, chunk size, codec and encoder settings; whether the build finished and which
  frames could not be decoded. Written atomically.
* ``chunk-000000.vpc``, ``chunk-000001.vpc``, ...: chunk ``k`` holds frames
  ``[k*C, min((k+1)*C, N))`` (C = ``chunk_frames``). A chunk is written to a temporary name
  and renamed when complete, so a file with a chunk name is always whole.
* ``in-use.lock``: held shared (an OS lock, gone with the process) by every reader and builder
  of the proxy; budget eviction deletes only proxies whose lock it can take exclusively.
* ``build.lock``: held by the one process building the proxy.

Chunk file: ``MAGIC`` (8 bytes), a little-endian uint32 header length, a JSON header
(``first``, ``count``, ``offsets`` (count+1 byte offsets into the payload), ``keys`` (the
packet indices that are keyframes), ``missing`` (frame indices with no decoded picture),
codec, size, fingerprint), then the payload: one encoded picture per frame, in frame order.
Packet ``i`` of chunk ``k`` is proxy frame ``k*C + i``, which is source frame ``k*C + i``.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.io.atomic import atomic_write
from app.io.video.cachedir import cache_folder

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: eviction only spares this process's proxies
    fcntl = None  # type: ignore[assignment]

PROXY_VERSION = 1
MAGIC = b"VLMPXC01"
MANIFEST = "manifest.json"
BUDGET_ENV = "VELLUM_PROXY_MB"  # all proxies together, in MiB
DEFAULT_BUDGET_MB = 20000
CHUNK_SUFFIX = ".vpc"
MAX_HEADER = 1 << 20

_IN_USE: dict[str, int] = {}  # proxy folder name -> readers/builders open in this process


def proxy_root() -> Path:
    """``<cache>/video-proxy``: one folder per video content."""
    return cache_folder() / "video-proxy"


def proxy_folder(fp: str) -> Path:
    """The folder of the proxy of the content with fingerprint ``fp`` (``sha256:<hex>``)."""
    return proxy_root() / fp.split(":")[-1]


def chunk_name(k: int) -> str:
    return f"chunk-{k:06d}{CHUNK_SUFFIX}"


def chunk_path(folder: Path, k: int) -> Path:
    return folder / chunk_name(k)


def budget_bytes() -> int:
    """``$VELLUM_PROXY_MB`` MiB (a whole number from 1), else 20000 MiB."""
    raw = os.environ.get(BUDGET_ENV, "").strip()
    mb = int(raw) if raw.isdigit() and int(raw) >= 1 else DEFAULT_BUDGET_MB
    return mb << 20


# ----------------------------------------------------------------------------- manifest
@dataclass
class Manifest:
    """What a proxy folder holds (see the module docstring); sizes in pixels."""

    fingerprint: str
    frame_count: int
    width: int
    height: int
    source_width: int
    source_height: int
    chunk_frames: int
    codec: str
    encoder: dict[str, Any]
    complete: bool = False
    missing: list[int] = field(default_factory=list)
    version: int = PROXY_VERSION

    @property
    def chunk_count(self) -> int:
        return -(-self.frame_count // self.chunk_frames)

    def frames_in(self, k: int) -> int:
        return max(0, min(self.chunk_frames, self.frame_count - k * self.chunk_frames))

    def same_recipe(self, other: Manifest) -> bool:
        """Same source content, frames, sizes and encoding: its chunks are reusable."""
        keys = ("fingerprint", "frame_count", "width", "height", "source_width",
                "source_height", "chunk_frames", "codec", "encoder", "version")
        return all(getattr(self, k) == getattr(other, k) for k in keys)

    def to_json(self) -> dict[str, Any]:
        return {"format": "vellum-video-proxy", "version": self.version,
                "fingerprint": self.fingerprint, "frame_count": self.frame_count,
                "width": self.width, "height": self.height,
                "source_width": self.source_width, "source_height": self.source_height,
                "chunk_frames": self.chunk_frames, "codec": self.codec,
                "encoder": self.encoder, "complete": self.complete, "missing": self.missing}

    def save(self, folder: Path) -> None:
        with atomic_write(folder / MANIFEST, "w") as f:
            json.dump(self.to_json(), f, indent=1)


def load_manifest(folder: Path, fp: str) -> Manifest | None:
    """The manifest in ``folder`` when it is whole, of this version and for content ``fp``;
    else None (the proxy is then ignored and rebuilt)."""
    try:
        raw = (folder / MANIFEST).read_bytes()
        if len(raw) > MAX_HEADER * 64:
            return None
        d = json.loads(raw)
        if d.get("format") != "vellum-video-proxy" or d.get("version") != PROXY_VERSION \
                or d.get("fingerprint") != fp:
            return None
        m = Manifest(fingerprint=fp, frame_count=int(d["frame_count"]), width=int(d["width"]),
                     height=int(d["height"]), source_width=int(d["source_width"]),
                     source_height=int(d["source_height"]),
                     chunk_frames=int(d["chunk_frames"]), codec=str(d["codec"]),
                     encoder=dict(d["encoder"]), complete=bool(d.get("complete")),
                     missing=[int(i) for i in d.get("missing", [])])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if m.frame_count < 1 or m.chunk_frames < 1 or m.width < 2 or m.height < 2:
        return None
    return m


# ----------------------------------------------------------------------------- chunks
def write_chunk(folder: Path, k: int, header: dict[str, Any], packets: list[bytes]) -> int:
    """Write chunk ``k`` atomically (temporary name, fsync, rename); its size in bytes."""
    offsets = [0]
    for p in packets:
        offsets.append(offsets[-1] + len(p))
    head = json.dumps({**header, "offsets": offsets}).encode()
    with atomic_write(chunk_path(folder, k), "wb") as f:
        f.write(MAGIC + struct.pack("<I", len(head)) + head)
        for p in packets:
            f.write(p)
    return len(MAGIC) + 4 + len(head) + offsets[-1]


def read_chunk_header(f: Any, fp: str, k: int, m: Manifest) -> tuple[dict[str, Any], int] | None:
    """The header of an open chunk file and where its payload starts; None when the file is
    not chunk ``k`` of this proxy (damaged, foreign, cut short)."""
    try:
        start = f.read(len(MAGIC) + 4)
        if len(start) != len(MAGIC) + 4 or start[:len(MAGIC)] != MAGIC:
            return None
        (n,) = struct.unpack("<I", start[len(MAGIC):])
        if n > MAX_HEADER:
            return None
        h = json.loads(f.read(n))
        count = int(h["count"])
        offsets = [int(o) for o in h["offsets"]]
        if h.get("fingerprint") != fp or int(h["first"]) != k * m.chunk_frames \
                or count != m.frames_in(k) or len(offsets) != count + 1 \
                or h.get("codec") != m.codec:
            return None
        payload = len(MAGIC) + 4 + n
        size = os.fstat(f.fileno()).st_size
        if offsets[0] != 0 or any(b < a for a, b in zip(offsets, offsets[1:])) \
                or payload + offsets[-1] != size:
            return None
        h["offsets"] = offsets
        h["keys"] = sorted(int(i) for i in h["keys"])
        h["missing"] = [int(i) for i in h.get("missing", [])]
        if not h["keys"] or h["keys"][0] != 0:
            return None
        return h, payload
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None


def complete_chunks(folder: Path, m: Manifest) -> set[int]:
    """Chunks whose file exists under its final name (a final name is only ever given to a
    whole chunk)."""
    out: set[int] = set()
    try:
        with os.scandir(folder) as it:
            for e in it:
                name = e.name
                if name.startswith("chunk-") and name.endswith(CHUNK_SUFFIX):
                    try:
                        k = int(name[6:-len(CHUNK_SUFFIX)])
                    except ValueError:
                        continue
                    if 0 <= k < m.chunk_count:
                        out.add(k)
    except OSError:
        pass
    return out


def folder_bytes(folder: Path) -> int:
    total = 0
    try:
        with os.scandir(folder) as it:
            for e in it:
                try:
                    if e.is_file(follow_symlinks=False):
                        total += e.stat(follow_symlinks=False).st_size
                except OSError:
                    pass
    except OSError:
        pass
    return total


# ----------------------------------------------------------------------------- use and locks
class UseLock:
    """A shared hold on a proxy folder's ``in-use.lock`` (and a count in this process), so
    that budget eviction never deletes a proxy being read or built."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fh: Any = None
        _IN_USE[folder.name] = _IN_USE.get(folder.name, 0) + 1
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._fh = open(folder / "in-use.lock", "a+b")
            if fcntl is not None:
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_SH)
        except OSError:
            self._fh = None
        touch_used(folder)

    def release(self) -> None:
        if self.folder.name in _IN_USE:
            _IN_USE[self.folder.name] -= 1
            if _IN_USE[self.folder.name] <= 0:
                del _IN_USE[self.folder.name]
        if self._fh is not None:
            try:
                self._fh.close()  # closing drops the OS lock
            except OSError:
                pass
            self._fh = None


def try_build_lock(folder: Path) -> Any:
    """The exclusive build lock of ``folder`` (a file object to close), or None when another
    process holds it."""
    fh = open(folder / "build.lock", "a+b")
    if fcntl is None:
        return fh
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


def touch_used(folder: Path) -> None:
    """Mark the proxy as just used (the least recently used go first when over budget)."""
    try:
        p = folder / "used"
        p.touch()
        os.utime(p)
    except OSError:
        pass


def last_used(folder: Path) -> float:
    for name in ("used", MANIFEST):
        try:
            return (folder / name).stat().st_mtime
        except OSError:
            continue
    return 0.0


def _proxy_folders() -> list[Path]:
    root = proxy_root()
    out = []
    try:
        with os.scandir(root) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False) and len(e.name) == 64 \
                        and all(c in "0123456789abcdef" for c in e.name):
                    out.append(Path(e.path))
    except OSError:
        pass
    return out


def _remove_if_unused(folder: Path) -> bool:
    """Delete a proxy folder nobody holds (here or in another process); False if in use."""
    if _IN_USE.get(folder.name):
        return False
    fh = None
    try:
        if fcntl is not None and (folder / "in-use.lock").exists():
            fh = open(folder / "in-use.lock", "a+b")
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False
        shutil.rmtree(folder, ignore_errors=True)
        return True
    except OSError:
        return False
    finally:
        if fh is not None:
            fh.close()


def evict(need: int, keep: Path | None = None) -> int:
    """Delete least recently used whole proxies (never ``keep``, never one in use) until all
    proxies plus ``need`` more bytes fit the budget. Returns the bytes still over (0: fits)."""
    budget = budget_bytes()
    folders = _proxy_folders()
    sizes = {f: folder_bytes(f) for f in folders}
    total = sum(sizes.values()) + need
    if total <= budget:
        return 0
    for f in sorted(folders, key=last_used):
        if total <= budget:
            break
        if keep is not None and f.name == keep.name:
            continue
        if _remove_if_unused(f):
            total -= sizes[f]
    return max(0, total - budget)
