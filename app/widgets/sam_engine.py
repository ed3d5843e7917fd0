"""The window's segment-anything engine: models run on a worker thread, answers come back on
the UI thread.

:class:`QtSamEngine` implements :class:`app.tools.sam_protocol.SamEngine`. One worker thread
opens the model sessions (:class:`app.inference.sam.SamSession`, seconds the first time),
runs the encoder (or finds the embedding in the cache, or waits for a prefetch in flight) and
the decoder (~30-60 ms on a CPU); a request superseded by a newer one on its channel is
skipped before it runs, so a burst of clicks costs one decode. Prefetches go to each
session's own prefetch thread. The UI thread only builds requests and draws answers: it never
waits on a model. Errors come back as one sentence (:class:`~app.core.errors.ModelError`'s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication

from app.core.errors import ModelError, VellumError
from app.tools.sam_protocol import SamAnswer, SamModel, SamPicture, SamRequest


def installed_sam_models(root: Path | None = None) -> list[SamModel]:
    """Complete segmentation packs in the model folder (manifests only: fast)."""
    from app.inference.packs import installed_packs

    packs, _ = installed_packs(root)
    return [SamModel(p.id, p.manifest.name or p.id, bool(p.manifest.prompt.get("needs_box")))
            for p in packs if p.manifest.task == "segment" and p.complete]


class QtSamEngine(QObject):
    """See the module doc. ``root``: the model folder (default: the user's);
    ``open_session(model_id)``: how a session is made (tests may pass a fake)."""

    _replied = Signal(object, object)  # (reply function, SamAnswer), queued to the UI thread
    device_found = Signal(str, str)  # (where the model runs in words, fallback reason)
    answered = Signal(object)  # every SamAnswer delivered (the options bar shows its time)
    models_changed = Signal()

    def __init__(self, parent: QObject | None = None, root: Path | None = None,
                 open_session: Callable[[str], Any] | None = None) -> None:
        super().__init__(parent)
        self.root = root
        self._open_session = open_session or self._real_session
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="sam-engine")
        self._lock = threading.Lock()
        self._sessions: dict[str, Any] = {}
        self._refused: dict[str, str] = {}  # model id -> why it cannot be opened
        self._latest: dict[str, int] = {}
        self._models: list[SamModel] | None = None
        self._closed = False
        self._replied.connect(self._deliver)
        # the model list follows the model folder: a pack installed or removed while the
        # window is open (CLI, the Models dialog, a file manager) is offered at once
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(lambda _path: self._settle.start())
        self._settle = QTimer(self, singleShot=True, interval=250)  # one rescan per burst
        self._settle.timeout.connect(self.rescan)
        self._follow_folder()

    # ------------------------------------------------------------------ models
    def models(self) -> list[SamModel]:
        if self._models is None:
            try:
                self._models = installed_sam_models(self.root)
            except (OSError, VellumError):
                self._models = []
        return list(self._models)

    def folder(self) -> Path:
        """The model folder this engine offers the packs of."""
        from app.inference.packs import models_dir

        return Path(self.root) if self.root is not None else models_dir()

    def _follow_folder(self) -> None:
        """Watch the model folder and each pack in it (their manifests and files), or, until
        the folder exists, the folder it will be made in."""
        root = self.folder()
        try:
            if root.is_dir():
                want = [root, *(d for d in root.iterdir()
                                if d.is_dir() and not d.name.startswith("."))]
            else:
                want = [root.parent] if root.parent.is_dir() else []
        except OSError:
            want = []
        paths = {str(p) for p in want}
        have = set(self._watcher.directories())
        if have - paths:
            self._watcher.removePaths(sorted(have - paths))
        if paths - have:
            self._watcher.addPaths(sorted(paths - have))

    def rescan(self) -> bool:
        """Read the model folder again; when its models differ from those offered, offer the
        new list (:meth:`refresh`). Manifests only: cheap enough for the UI thread."""
        if self._closed:
            return False
        self._follow_folder()
        try:
            now = installed_sam_models(self.root)
        except (OSError, VellumError):
            now = []
        if self._models is not None and now == self._models:
            return False
        self.refresh()
        return True

    def refresh(self) -> None:
        """Read the model folder again (after an import) and forget refused models."""
        self._models = None
        with self._lock:
            self._refused.clear()
        self.models_changed.emit()

    def _real_session(self, model_id: str) -> Any:
        from app.inference.embeddings import EmbeddingCache, default_cache_folder
        from app.inference.sam import SamSession

        return SamSession(model_id, cache=EmbeddingCache(32, default_cache_folder()),
                          models_root=self.root)

    def session(self, model_id: str) -> Any:
        """The open session of ``model_id`` (opened now if needed: call off the UI thread);
        :class:`ModelError` in one sentence when it cannot be opened."""
        with self._lock:
            if model_id in self._sessions:
                return self._sessions[model_id]
            if model_id in self._refused:
                raise ModelError(self._refused[model_id])
        try:
            session = self._open_session(model_id)
        except VellumError as exc:
            with self._lock:
                self._refused[model_id] = str(exc)
            raise
        with self._lock:
            self._sessions.setdefault(model_id, session)
            session = self._sessions[model_id]
        device = getattr(session, "device", "")
        if device and not self._closed:
            fallback = "; ".join(f for f in (getattr(getattr(session, r, None), "fallback", "")
                                             for r in ("encoder", "decoder")) if f)
            try:
                self.device_found.emit(str(device), fallback)
            except RuntimeError:  # the window is gone
                pass
        return session

    # ------------------------------------------------------------------ the interface
    def prepare(self, model_id: str, picture: SamPicture) -> None:
        """Encode ``picture`` now (worker thread) so the first click does not wait."""
        self._submit(lambda: self.session(model_id).encode(picture.pixels(), picture.place,
                                                           picture.content))

    def prefetch(self, model_id: str, pictures: Sequence[SamPicture]) -> None:
        """Encode ``pictures`` on the session's prefetch thread, in order (a new call
        supersedes what is left of the last)."""
        from app.inference.sam import PrefetchItem

        items = [PrefetchItem(p.image, p.place, p.content) for p in pictures]
        self._submit(lambda: self.session(model_id).prefetch(items))

    def predict(self, request: SamRequest, reply: Callable[[SamAnswer], None]) -> None:
        with self._lock:
            self._latest[request.channel] = request.serial
        self._submit(lambda: self._answer(request, reply))

    def repaint(self, tool: Any) -> None:
        """Redraw every canvas showing ``tool``."""
        from app.widgets.canvas import Canvas

        app = QApplication.instance()
        for w in app.allWidgets() if app is not None else []:
            if isinstance(w, Canvas) and w.tool is tool:
                w.update()

    # ------------------------------------------------------------------ the worker
    def _superseded(self, request: SamRequest) -> bool:
        with self._lock:
            return self._closed or self._latest.get(request.channel) != request.serial

    def _answer(self, request: SamRequest, reply: Callable[[SamAnswer], None]) -> None:
        if self._superseded(request):
            return
        start = time.perf_counter()
        try:
            session = self.session(request.model_id)
            embedding = session.encode(request.picture.pixels(), request.picture.place,
                                       request.picture.content)
            if self._superseded(request):
                return
            encoded = time.perf_counter()
            best = session.predict(request.box, request.points, request.labels,
                                   multimask=request.multimask, embedding=embedding).best()
            answer = SamAnswer(request.serial, best.mask, float(best.score), best.source,
                               ms=(time.perf_counter() - encoded) * 1000,
                               wait_ms=(encoded - start) * 1000)
        except VellumError as exc:
            answer = SamAnswer(request.serial, None, 0.0, request.model_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - one sentence, never a traceback
            answer = SamAnswer(request.serial, None, 0.0, request.model_id,
                               f"{request.model_id} could not segment this picture ({exc}).")
        self._emit(reply, answer)

    def _emit(self, reply: Callable[[SamAnswer], None], answer: SamAnswer) -> None:
        if self._closed:
            return
        try:
            self._replied.emit(reply, answer)
        except RuntimeError:  # the engine's QObject is gone (window closed)
            pass

    def _submit(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the worker; a failure there only costs speed (an answer's own errors
        are caught in :meth:`_answer` and said to the user)."""
        if self._closed:
            return

        def run() -> None:
            try:
                fn()
            except Exception:  # noqa: BLE001 - prepare/prefetch: the next request says why
                pass

        try:
            self._worker.submit(run)
        except RuntimeError:  # shut down meanwhile
            pass

    @Slot(object, object)
    def _deliver(self, reply: Callable[[SamAnswer], None], answer: SamAnswer) -> None:
        if not self._closed:
            reply(answer)
            self.answered.emit(answer)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until the worker has run everything submitted so far (tests, shutdown)."""
        done = threading.Event()
        try:
            self._worker.submit(done.set)
        except RuntimeError:  # closed
            return True
        return done.wait(timeout)

    def close(self) -> None:
        """Stop the worker and every session's prefetch thread."""
        self._closed = True
        self._settle.stop()
        if self._watcher.directories():
            self._watcher.removePaths(self._watcher.directories())
        self._worker.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for s in sessions:
            close = getattr(s, "close", None)
            if close is not None:
                threading.Thread(target=close, daemon=True).start()
