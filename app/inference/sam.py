"""Segment Anything sessions: encode an image once, then answer prompts in milliseconds.

``SamSession(model_id)`` opens an installed pack through the runtime; ``set_image`` runs the
encoder (or finds the embedding in the cache), ``predict`` runs the decoder on box, positive /
negative points and an optional previous mask. ``prefetch`` encodes upcoming images on a worker
thread so that the first click on them does not wait. The family (LiteMedSAM, official SAM ViT
ONNX layout, later SAM 2) is chosen from the manifest; callers never depend on it.

All coordinates are continuous pixel coordinates of the image given to ``set_image``; boxes
are ``(x, y, w, h)``. Masks are boolean ``H x W`` of that image.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.errors import ModelError
from app.core.places import Place
from app.inference.embeddings import Embedding, EmbeddingCache, cache_key, content_key
from app.inference.masks import SamMask
from app.inference.packs import InstalledPack, open_pack
from app.inference.runtime import ModelSession, Runtime, default_runtime
from app.inference.sam_families import LOW_RES, SamFamily, family_for

Image = np.ndarray
ImageLoader = Callable[[], np.ndarray]


@dataclass(frozen=True)
class Prediction:
    """Decoder answer: ``masks`` (M, H, W) bool best first, ``scores`` (M,) predicted IoU,
    ``low_res`` (M, 256, 256) logits to pass back as ``mask_input`` for refinement."""

    masks: np.ndarray
    scores: np.ndarray
    low_res: np.ndarray
    source: str

    def best(self) -> SamMask:
        return SamMask(self.masks[0], float(self.scores[0]), self.source)

    def all(self) -> list[SamMask]:
        return [SamMask(m, float(s), self.source) for m, s in zip(self.masks, self.scores)]


@dataclass(frozen=True)
class PrefetchItem:
    """An image to encode ahead of time: the array or a function loading it, its
    :class:`~app.core.places.Place` (None: a still image known by its pixels) and optionally a
    content key the caller already has."""

    image: Image | ImageLoader
    place: Place | None = None
    content: str | None = None


def as_rgb(image: np.ndarray) -> np.ndarray:
    """``H x W`` grey or ``H x W x 3/4`` colour, uint8 (other dtypes min-max scaled) -> RGB."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        a = np.round((a.astype(np.float32) - lo) * (255.0 / (hi - lo or 1.0))).clip(
            0, 255).astype(np.uint8)
    if a.ndim == 2:
        return np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        return np.ascontiguousarray(a[:, :, :3])
    if a.ndim == 3 and a.shape[2] == 1:
        return np.repeat(a, 3, axis=2)
    raise ValueError(f"an image must be H x W or H x W x 3, got shape {a.shape}")


class SamSession:
    """One segmentation model, ready for prompts. Thread-safe: the worker encodes while the
    caller decodes."""

    def __init__(self, model: str | InstalledPack, runtime: Runtime | None = None,
                 cache: EmbeddingCache | None = None, models_root: Path | None = None) -> None:
        pack = model if isinstance(model, InstalledPack) else open_pack(model, models_root)
        if pack.manifest.task != "segment":
            raise ModelError(f"{pack.id} is a {pack.manifest.task} model, not a segmentation "
                             "model.", pack.folder)
        self.pack = pack
        self.model_id = pack.id
        self.family: SamFamily = family_for(pack.manifest)
        runtime = runtime or default_runtime()
        self.encoder = self._open(runtime, "encoder")
        self.decoder = self._open(runtime, "decoder")
        self.cache = cache or EmbeddingCache()
        self._embedding: Embedding | None = None
        self._lock = threading.Lock()
        self._inflight: dict[str, Future] = {}
        self._worker: ThreadPoolExecutor | None = None
        self._generation = 0

    def _open(self, runtime: Runtime, role: str) -> ModelSession:
        spec = self.pack.manifest.files[role]
        session = runtime.session(self.pack.path(role), sha256=self.pack.files[role].get(
            "installed_sha256"), label=f"The {self.model_id} {role} ({self.pack.path(role)})")
        wanted = set(spec.inputs)
        if wanted and set(session.inputs) != wanted:
            missing = sorted(wanted - set(session.inputs)) or sorted(set(session.inputs) - wanted)
            raise ModelError(f"{session.path} does not have the inputs the {self.model_id} "
                             f"{role} needs ({', '.join(missing)}).", session.path)
        return session

    @property
    def device(self) -> str:
        """Where the models run, in words (the encoder's device; the decoder's if different)."""
        enc, dec = self.encoder.device, self.decoder.device
        return enc if enc == dec else f"{enc} (decoder: {dec})"

    # -- encoding ----------------------------------------------------------------------------

    def key(self, image: np.ndarray, place: Place | None = None, content: str | None = None
            ) -> str:
        return cache_key(self.model_id, content or content_key(image), place)

    def encode(self, image: np.ndarray, place: Place | None = None, content: str | None = None
               ) -> Embedding:
        """Embedding of ``image`` (from the cache, a prefetch in flight, or the encoder)."""
        rgb = as_rgb(image)
        key = self.key(rgb, place, content)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        with self._lock:
            running = self._inflight.get(key)
        if running is not None:
            try:
                return running.result()
            except Exception:  # noqa: BLE001 - the worker failed: try here, raise here
                pass
        return self._encode_now(rgb, key)

    def _encode_now(self, rgb: np.ndarray, key: str) -> Embedding:
        tensor, frame = self.family.preprocess(rgb)
        name = next(iter(self.encoder.inputs))
        outputs = self.encoder.run(None, {name: tensor})
        names = list(self.encoder.outputs)
        embedding = Embedding(self.model_id, key, frame, dict(zip(names, outputs)))
        self.cache.put(embedding)
        return embedding

    def set_image(self, image: np.ndarray, place: Place | None = None,
                  content: str | None = None) -> Embedding:
        """Make ``image`` the one prompts refer to; returns its embedding."""
        embedding = self.encode(image, place, content)
        self._embedding = embedding
        return embedding

    def set_slice(self, volume: np.ndarray, index: int, window: tuple[float, float],
                  axis: int = 0, content: str | None = None, media_id: str = "volume"
                  ) -> Embedding:
        """Make slice ``index`` along array ``axis`` of ``volume`` ([k, j, i], real units)
        the current image, windowed to 8-bit with ``window`` = (width, level) first. Its place
        is that slice of ``media_id``; ``content`` (e.g. the volume's fingerprint) saves
        hashing."""
        from app.inference.masks import window_to_uint8

        width, level = window
        plane = window_to_uint8(np.take(volume, index, axis=axis), width, level)
        key = f"{content}|{width}|{level}" if content else None
        return self.set_image(plane, Place(media_id, axis="kji"[axis], index=index), key)

    def is_ready(self, image: np.ndarray, place: Place | None = None,
                 content: str | None = None) -> bool:
        """Whether ``set_image`` would answer without running the encoder."""
        return self.key(as_rgb(image), place, content) in self.cache

    def prefetch(self, items: Iterable[PrefetchItem | Image]) -> Future:
        """Encode ``items`` on the worker thread, in order, skipping cached ones. A new call
        supersedes the items of the previous one that have not started. The future resolves
        to the number encoded."""
        with self._lock:
            self._generation += 1
            generation = self._generation
            if self._worker is None:
                self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"sam-{self.model_id}")
        todo = [i if isinstance(i, PrefetchItem) else PrefetchItem(i) for i in items]
        return self._worker.submit(self._prefetch, todo, generation)

    def _prefetch(self, items: Sequence[PrefetchItem], generation: int) -> int:
        done = 0
        for item in items:
            if generation != self._generation:
                break
            rgb = as_rgb(item.image() if callable(item.image) else item.image)
            key = self.key(rgb, item.place, item.content)
            if key in self.cache:
                continue
            future: Future = Future()
            with self._lock:
                if key in self._inflight:
                    continue
                self._inflight[key] = future
            try:
                future.set_result(self._encode_now(rgb, key))
                done += 1
            except Exception as exc:  # noqa: BLE001 - reported to whoever waits on it
                future.set_exception(exc)
            finally:
                with self._lock:
                    self._inflight.pop(key, None)
        return done

    # -- decoding ----------------------------------------------------------------------------

    def predict(self, box: Sequence[float] | None = None,
                points: Sequence[Sequence[float]] = (), labels: Sequence[int] = (),
                mask_input: np.ndarray | None = None, multimask: bool = False,
                embedding: Embedding | None = None) -> Prediction:
        """Masks for a prompt on the current image (or ``embedding``): ``box`` ``(x, y, w,
        h)``, ``points`` ``(x, y)`` with ``labels`` 1 (add) / 0 (remove), ``mask_input`` a
        previous ``Prediction.low_res`` entry to refine. ``multimask`` returns the model's
        three choices best first where it has them."""
        emb = embedding or self._embedding
        if emb is None:
            raise ValueError("set_image must be called before predict")
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        labs = np.asarray(labels, np.float64).reshape(-1)
        if len(labs) != len(pts):
            raise ValueError("each point needs a label (1 positive, 0 negative)")
        if box is None and len(pts) == 0:
            raise ValueError("a prompt needs a box or at least one point")
        if box is None and self.family.needs_box:
            raise ModelError(f"{self.model_id} was trained with box prompts only: draw a box "
                             "around the object first.", self.pack.folder)
        coords, point_labels = self.family.prompt_arrays(
            emb.frame, tuple(float(v) for v in box) if box is not None else None, pts, labs)
        feeds = {"point_coords": coords, "point_labels": point_labels,
                 "mask_input": np.zeros((1, 1, LOW_RES, LOW_RES), np.float32),
                 "has_mask_input": np.zeros(1, np.float32)}
        if mask_input is not None:
            feeds["mask_input"] = np.asarray(mask_input, np.float32).reshape(
                1, 1, LOW_RES, LOW_RES)
            feeds["has_mask_input"] = np.ones(1, np.float32)
        feeds.update(self.family.extra_feeds(emb.frame))
        for name, value in emb.arrays.items():
            if name in self.decoder.inputs:
                feeds[name] = value
        names = list(self.decoder.outputs)
        outputs = dict(zip(names, self.decoder.run(None, feeds)))
        logits, scores, low = self.family.postprocess(outputs, emb.frame, multimask)
        order = np.argsort(-scores, kind="stable") if len(scores) > 1 else np.arange(1)
        return Prediction(logits[order] > 0, scores[order].astype(np.float32), low[order],
                          self.model_id)

    def segment(self, image: np.ndarray, box: Sequence[float] | None = None,
                points: Sequence[Sequence[float]] = (), labels: Sequence[int] = (),
                place: Place | None = None) -> SamMask:
        """``set_image`` then ``predict``: the best mask for one prompt."""
        self.set_image(image, place)
        return self.predict(box, points, labels).best()

    def close(self) -> None:
        """Stop the worker (pending prefetches are dropped)."""
        with self._lock:
            self._generation += 1
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> SamSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
