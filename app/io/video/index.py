"""The frame index of a video: which packet makes frame N, built once by demuxing.

Frame N is the N-th frame in presentation order, 0-based, exactly as ``ffmpeg -i F -map 0:v:0
-fps_mode passthrough`` outputs frames: packets the container discards under an edit list are
decoded (they are references) but are not frames; packets the decoder drops (before the first
keyframe, leading pictures of an open GOP at the start of a cut stream, undecodable data) are
not frames either.

Demuxing gives presentation timestamps (pts, in the stream's ``time_base``), keyframe, discard
and corrupt flags for every packet. Frames are the frame-making packets sorted by pts. Where
demuxing alone cannot know what the decoder will output (a stream that does not start on a
keyframe, damaged or truncated data, missing or duplicated timestamps, codecs where a packet
is not always one picture) the packets are decoded once and the decoder's own output order is
the index ("verified"). Building is in :mod:`app.io.video.build`; this module is the record.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from app.io.atomic import atomic_write

INDEX_VERSION = 1
NOPTS = np.iinfo(np.int64).min  # "no timestamp" in the int64 pts/dts arrays
KEY, DISCARD, CORRUPT, NOFRAME, BADKEY = 1, 2, 4, 8, 16  # packet flag bits


@dataclass
class FrameIndex:
    """Packets in decode order and frames in presentation order of one video stream.

    ``pkt_*`` arrays have one entry per non-empty packet of the stream, in demux (decode)
    order; ``frame_pkt[n]`` is the packet whose picture is frame ``n`` and ``frame_pts[n]`` its
    pts (stream time base). ``meta`` holds what the stream says about itself (JSON-able).
    """

    pkt_pts: np.ndarray
    pkt_dts: np.ndarray
    pkt_pos: np.ndarray
    pkt_flags: np.ndarray
    frame_pkt: np.ndarray
    frame_pts: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._derive()

    # ------------------------------------------------------------------ derived tables
    def _derive(self) -> None:
        n_pkt = len(self.pkt_pts)
        self.pkt_frame = np.full(n_pkt, -1, dtype=np.int64)
        # the first frame a packet makes (a packet making several is rare and handled by
        # the decoder session through frame_pkt)
        order = np.arange(len(self.frame_pkt))
        self.pkt_frame[self.frame_pkt[::-1]] = order[::-1]
        keys = np.flatnonzero((self.pkt_flags & KEY) != 0)
        self.key_pkts = keys
        # display position of each keyframe packet: its own frame index, or for a key that is
        # not a frame (discarded by an edit list) the number of frames shown before its pts
        disp = self.pkt_frame[keys].copy()
        sorted_pts = np.sort(self.frame_pts)
        for i in np.flatnonzero(disp < 0):
            k = keys[i]
            p = self.pkt_pts[k]
            disp[i] = 0 if (p == NOPTS and k == 0) else (
                int(np.searchsorted(sorted_pts, p, side="left")) if p != NOPTS else 1 << 62)
        self.key_disp = disp
        self._pos_order: np.ndarray | None = None
        self._concealed = frozenset(int(i) for i in self.meta.get("corrupt_frames", ()))

    @property
    def frame_count(self) -> int:
        return int(len(self.frame_pkt))

    @property
    def time_base(self) -> Fraction:
        num, den = self.meta.get("time_base", (1, 90000))
        return Fraction(int(num), int(den))

    @property
    def verified(self) -> bool:
        """True when every packet has been decoded once and the frames are what came out."""
        return bool(self.meta.get("verified"))

    def timestamps(self) -> np.ndarray:
        """Seconds from the first displayed frame, per frame index (float64)."""
        if not len(self.frame_pts):
            return np.zeros(0)
        rel = (self.frame_pts - self.frame_pts[0]).astype(np.float64)
        return rel * float(self.time_base)

    def backward_frames(self) -> np.ndarray:
        """Frame indices whose timestamp is earlier than the frame before's (damaged timing:
        a project keeps no frame times for such a video)."""
        return np.flatnonzero(np.diff(self.frame_pts) < 0) + 1

    def pts_seconds(self) -> np.ndarray:
        """Stream pts of each frame in seconds (not re-based)."""
        return self.frame_pts.astype(np.float64) * float(self.time_base)

    def keyframes(self) -> np.ndarray:
        """Per frame index: its packet is flagged as a keyframe (random access point)."""
        if not len(self.frame_pkt):
            return np.zeros(0, dtype=bool)
        return (self.pkt_flags[self.frame_pkt] & KEY) != 0

    def start_packets(self, n: int) -> list[int]:
        """Packets to start decoding from to reach frame ``n``, best (latest) first: usable
        keyframes at or before frame n's packet in decode order whose display position is
        at or before n (so open-GOP leading pictures are decoded from the previous GOP).
        The start of the stream (packet 0) is always last."""
        d = int(self.frame_pkt[n])
        ok = ((self.key_pkts <= d) & (self.key_disp <= n)
              & ((self.pkt_flags[self.key_pkts] & BADKEY) == 0))
        cands = [int(k) for k in self.key_pkts[ok][::-1]]
        if n in self._concealed and len(cands) > 1:
            # a concealed picture borrows from whatever the decoder showed before: decode it
            # with one more GOP of history, as decoding the file from the start does
            cands = cands[1:]
        if not cands or cands[-1] != 0:
            cands.append(0)
        return cands

    def start_packet(self, n: int) -> int:
        return self.start_packets(n)[0]

    def locate(self, pts: int | None, dts: int | None, pos: int | None,
               hint: int | None = None) -> int | None:
        """Index of the demuxed packet with these fields (None when not in the index)."""
        p = NOPTS if pts is None else int(pts)
        d = NOPTS if dts is None else int(dts)
        if hint is not None and 0 <= hint < len(self.pkt_pts) and self._same(hint, p, d, pos):
            return hint
        if pos is not None and pos >= 0:
            if self._pos_order is None:
                self._pos_order = np.argsort(self.pkt_pos, kind="stable")
            sorted_pos = self.pkt_pos[self._pos_order]
            lo = int(np.searchsorted(sorted_pos, pos, side="left"))
            hi = int(np.searchsorted(sorted_pos, pos, side="right"))
            for i in self._pos_order[lo:hi]:
                if self._same(int(i), p, d, pos):
                    return int(i)
        hits = np.flatnonzero((self.pkt_pts == p) & (self.pkt_dts == d))
        return int(hits[0]) if len(hits) else None

    def _same(self, i: int, pts: int, dts: int, pos: int | None) -> bool:
        if self.pkt_pts[i] != pts or self.pkt_dts[i] != dts:
            return False
        return pos is None or pos < 0 or self.pkt_pos[i] < 0 or self.pkt_pos[i] == pos

    def mark_bad_key(self, k: int) -> None:
        """Keyframe packet ``k`` turned out not to be a usable starting point."""
        self.pkt_flags[k] |= BADKEY
        self.meta["changed"] = True

    # ------------------------------------------------------------------ storage
    def save(self, path: Path) -> None:
        """Write atomically (temp file, fsync, rename)."""
        meta = {k: v for k, v in self.meta.items() if k != "changed"}
        buf = io.BytesIO()
        np.savez(buf, pkt_pts=self.pkt_pts, pkt_dts=self.pkt_dts, pkt_pos=self.pkt_pos,
                 pkt_flags=self.pkt_flags, frame_pkt=self.frame_pkt, frame_pts=self.frame_pts,
                 meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
        with atomic_write(path, "wb") as f:
            f.write(buf.getvalue())
        self.meta.pop("changed", None)

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> FrameIndex | None:
        """The index stored at ``path`` for a file with this fingerprint; None when the file
        is missing, damaged, from another version or for other content."""
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                if meta.get("version") != INDEX_VERSION or meta.get("fingerprint") != fingerprint:
                    return None
                arrays = {k: z[k] for k in ("pkt_pts", "pkt_dts", "pkt_pos", "pkt_flags",
                                            "frame_pkt", "frame_pts")}
        except Exception:  # damaged, truncated, not an npz: rebuild
            return None
        n_pkt = len(arrays["pkt_pts"])
        if any(len(arrays[k]) != n_pkt for k in ("pkt_dts", "pkt_pos", "pkt_flags")) or \
                len(arrays["frame_pkt"]) != len(arrays["frame_pts"]) or \
                (len(arrays["frame_pkt"]) and (arrays["frame_pkt"].min() < 0
                                               or arrays["frame_pkt"].max() >= n_pkt)):
            return None
        try:
            return cls(pkt_pts=arrays["pkt_pts"].astype(np.int64),
                       pkt_dts=arrays["pkt_dts"].astype(np.int64),
                       pkt_pos=arrays["pkt_pos"].astype(np.int64),
                       pkt_flags=arrays["pkt_flags"].astype(np.uint8),
                       frame_pkt=arrays["frame_pkt"].astype(np.int64),
                       frame_pts=arrays["frame_pts"].astype(np.int64), meta=meta)
        except Exception:
            return None
