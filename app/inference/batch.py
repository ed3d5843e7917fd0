"""Batch jobs: one model task over many media, computed by worker processes (or a Dask
cluster), written by this process alone, resumable after a crash.

A **job** is a task (``app.inference.batch_tasks``: detect, track, propagate), its options and
its **units**: a unit is one media item and a frame range of at most :data:`STEP_FRAMES`
frames, one image or small media whole, or one object's whole run (tracking and mask
propagation are sequential per object: such a unit streams its results in steps of at most
:data:`STEP_FRAMES` frames). Frames are 0-based in presentation order.

Who does what:

- **Workers** compute a unit from the media's path and the options alone (pure, picklable:
  :func:`run_unit`); they never open the project. On one machine they are local processes
  (``concurrent.futures.ProcessPoolExecutor``, spawned, talking through pipes: no socket is
  opened); with ``cluster=`` they are the workers of a site's Dask ``distributed`` cluster
  (``distributed.Client(address)``), running the same function. Each step a worker finishes is
  sent back at once (a pipe queue, or a ``distributed.Queue``).
- **The writer** (this process, the only one that writes the project) turns each step into
  records and executes them as one document command (:class:`~app.core.commands.Batch`)
  together with the unit's journal entry (:class:`~app.core.commands.SetMeta`): one store
  transaction, so a unit's records and its done mark land together or not at all.

**The journal** lives in the project's ``meta`` table: ``batch:job:<id>`` (the job: task,
options, units), ``batch:done:<id>:<unit>`` (a unit is finished) and ``batch:step:<id>:<unit>``
(how far a streamed unit got: enough to restart it from its last committed frame). Record ids
are ``uuid5(job id, unit, index)`` (:func:`record_id`), so writing a unit again replaces its
records instead of adding copies. ``resume=True`` finishes an unfinished job: done units are
skipped, a streamed unit restarts from its last committed frame, the others run again. The job
id is derived from the project, task, options and units, so running the same job again after
it finished finds it done and writes nothing; a new job of a task whose previous job is
unfinished is refused (finish that one with ``--resume`` first).

On a cluster, media and model paths must be the same on every worker as on this machine (a
shared file system mounted at the same path), and every worker needs this version of Vellum
installed: workers get the media's absolute path and ``VELLUM_MODELS_DIR``, nothing else.
"""

from __future__ import annotations

import json
import os
import pickle
import queue as queue_mod
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.core.errors import VellumError

STEP_FRAMES = 100  # a unit's results are committed at least this often (frames)
PREFIX = "batch:"
NAMESPACE = uuid.UUID("5b0f7d1e-5c44-4b0e-9a0b-7b61d0a4c1e2")  # record ids of batch jobs
POLL_S = 0.2  # how often the writer looks at cancel and at its workers while waiting


def record_id(job_id: str, unit_key: str, index: int | str) -> str:
    """The id of record ``index`` of ``unit_key`` in job ``job_id``: the same every time the
    unit is computed, so a unit written twice replaces its records (32 hex digits)."""
    return uuid.uuid5(NAMESPACE, f"{job_id}|{unit_key}|{index}").hex


@dataclass(frozen=True)
class Unit:
    """One piece of a job: ``media_id`` at ``path`` (absolute, as workers will read it),
    ``frames`` frames or places to compute (for progress), and the task's own ``args``
    (JSON). ``key`` names it inside its job; it never changes, even when a resume narrows
    ``args`` to what is left."""

    key: str
    media_id: str
    path: str
    frames: int
    args: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "media_id": self.media_id, "path": self.path,
                "frames": self.frames, "args": self.args}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Unit:
        return cls(str(obj["key"]), str(obj["media_id"]), str(obj["path"]),
                   int(obj["frames"]), dict(obj.get("args") or {}))


@dataclass
class Job:
    """A planned job (see the module doc); ``finished`` is the UTC time it ended, or None."""

    id: str
    task: str
    options: dict[str, Any]
    units: list[Unit]
    created: str = ""
    finished: str | None = None

    @property
    def key(self) -> str:
        return f"{PREFIX}job:{self.id}"

    def done_key(self, unit: Unit | str) -> str:
        return f"{PREFIX}done:{self.id}:{getattr(unit, 'key', unit)}"

    def step_key(self, unit: Unit | str) -> str:
        return f"{PREFIX}step:{self.id}:{getattr(unit, 'key', unit)}"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "task": self.task, "options": self.options,
                "units": [u.to_json() for u in self.units], "created": self.created,
                "finished": self.finished}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Job:
        return cls(str(obj["id"]), str(obj["task"]), dict(obj.get("options") or {}),
                   [Unit.from_json(u) for u in obj.get("units") or []],
                   str(obj.get("created") or ""), obj.get("finished"))


def job_id(project_id: str, task: str, options: dict[str, Any], units: list[Unit]) -> str:
    """The id of a job: the same project, task, options and units give the same id (where
    the media files lie is not part of it: a moved or copied project keeps its job ids)."""
    body = json.dumps({"project": project_id, "task": task, "options": options,
                       "units": [{**u.to_json(), "path": ""} for u in units]}, sort_keys=True)
    return uuid.uuid5(NAMESPACE, body).hex


# ---------------------------------------------------------------------- the journal
def jobs(doc: Any) -> list[Job]:
    """Every batch job recorded in the project, oldest first."""
    out = [Job.from_json(json.loads(v)) for v in doc.store.meta(f"{PREFIX}job:").values()]
    return sorted(out, key=lambda j: (j.created, j.id))


def journal(doc: Any, job: Job) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """``(done marks, step marks)`` of ``job``, by unit key."""
    def read(prefix: str) -> dict[str, dict[str, Any]]:
        return {k[len(prefix):]: json.loads(v) for k, v in doc.store.meta(prefix).items()}

    return read(f"{PREFIX}done:{job.id}:"), read(f"{PREFIX}step:{job.id}:")


# ---------------------------------------------------------------------- tasks
class UnitWriter(Protocol):
    """The writer side of one unit (made by :meth:`Task.writer`)."""

    def step(self, payload: Any, last: bool) -> tuple[list[Any], dict[str, Any] | None, int]:
        """Commands storing one step's results, the step mark to keep (None: none), and how
        many records they store."""


class Task(Protocol):
    """A batch task (``app.inference.batch_tasks``)."""

    name: str

    def plan(self, doc: Any, items: list[Any], options: dict[str, Any]) -> list[Unit]: ...

    def writer(self, doc: Any, job: Job, unit: Unit, mark: dict[str, Any] | None
               ) -> UnitWriter: ...

    def resume(self, unit: Unit, mark: dict[str, Any]) -> Unit: ...

    @staticmethod
    def compute(unit: Unit, options: dict[str, Any], emit: Callable[[Any, int, bool], None],
                should_stop: Callable[[], bool]) -> None: ...


def task_named(name: str) -> Task:
    from app.inference.batch_tasks import TASKS

    try:
        return TASKS[name]
    except KeyError:
        raise VellumError(f"There is no batch task {name!r} (one of "
                          f"{', '.join(sorted(TASKS))}).") from None


# ---------------------------------------------------------------------- worker side
_SINK: Any = None  # this worker process's queue to the writer (local pool)


def _init_local_worker(sink: Any, parent: int, threads: int) -> None:
    """Pool initializer: keep the queue; share the cores between the workers (ONNX Runtime's
    threads, unless ``VELLUM_ORT_THREADS`` says otherwise); Ctrl+C is the writer's to handle;
    end with the writer (a killed writer must not leave workers computing for no one)."""
    global _SINK
    _SINK = sink
    os.environ.setdefault("VELLUM_ORT_THREADS", str(threads))
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="vellum-batch-parent").start()


def run_unit(task: str, options: dict[str, Any], unit: dict[str, Any],
             sink: str | None = None) -> int:
    """Compute one unit (in a worker): each step goes to the writer as ``(unit key, "step",
    pickled payload, frames, last)``; a failure as ``(unit key, "error", sentence, 0, True)``.
    ``sink`` names the ``distributed.Queue`` on a cluster (None: this pool's pipe queue).
    Returns how many steps were sent."""
    u = Unit.from_json(unit)
    if sink is None:
        out = _SINK
    else:
        from distributed import Queue

        out = Queue(sink)
    root = options.get("models_root")
    if root:
        os.environ["VELLUM_MODELS_DIR"] = str(root)
    sent = [0]

    def emit(payload: Any, frames: int, last: bool) -> None:
        out.put((u.key, "step", pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL),
                 int(frames), bool(last)))
        sent[0] += 1

    try:
        task_named(task).compute(u, options, emit, lambda: False)
    except Exception as exc:  # noqa: BLE001 - one sentence back to the writer, never a crash
        text = str(exc) if isinstance(exc, VellumError) else (
            f"{type(exc).__name__} ({' '.join(str(exc).split())[:200]})")
        out.put((u.key, "error", text, 0, True))
    return sent[0]


# ---------------------------------------------------------------------- executors
class LocalPool:
    """``workers`` spawned local processes; results come back through a pipe queue (no
    socket)."""

    def __init__(self, workers: int) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")  # no fork of a process holding ONNX Runtime threads
        self.queue = ctx.Queue()
        n = max(1, int(workers))
        threads = max(1, (os.cpu_count() or 1) // n)
        self.pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx,
                                        initializer=_init_local_worker,
                                        initargs=(self.queue, os.getpid(), threads))
        self.where = f"{max(1, int(workers))} local worker process(es)"

    def submit(self, task: str, options: dict[str, Any], unit: Unit) -> Any:
        return self.pool.submit(run_unit, task, options, unit.to_json(), None)

    def next(self, timeout: float) -> tuple[Any, ...] | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue_mod.Empty:
            return None

    def close(self, cancel: bool = False) -> None:
        if cancel:
            processes = list((getattr(self.pool, "_processes", None) or {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for p in processes:  # the in-flight units are dropped
                if p.is_alive():
                    p.terminate()
            for p in processes:
                p.join(5)
        else:
            self.pool.shutdown(wait=True)
        self.queue.close()
        self.queue.join_thread()


class ClusterPool:
    """The workers of a Dask ``distributed`` scheduler at ``address``
    (``tcp://HOST:8786``); results come back through a ``distributed.Queue``."""

    def __init__(self, address: str) -> None:
        try:
            import distributed
        except ImportError:
            raise VellumError("--cluster needs Dask's distributed package, which is not "
                              "installed here (pip install 'vellum[cluster]').") from None
        try:
            self.client = distributed.Client(address, timeout=30, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise VellumError(f"Cannot reach the Dask scheduler at {address} ({exc}).") \
                from None
        self.name = f"vellum-batch-{uuid.uuid4().hex}"
        self.queue = distributed.Queue(self.name, client=self.client)
        self._waiting: deque[Any] = deque()
        workers = len(self.client.scheduler_info().get("workers", {}))
        self.where = f"the Dask cluster at {address} ({workers} worker(s))"

    def submit(self, task: str, options: dict[str, Any], unit: Unit) -> Any:
        return self.client.submit(run_unit, task, options, unit.to_json(), self.name,
                                  pure=False, key=f"vellum-{unit.key}-{uuid.uuid4().hex}")

    def next(self, timeout: float) -> tuple[Any, ...] | None:
        # what is waiting, without a blocking get (a timed-out get is an error in the
        # scheduler's log)
        if not self._waiting:
            self._waiting.extend(self.queue.get(batch=True))
            if not self._waiting:
                time.sleep(timeout)
                self._waiting.extend(self.queue.get(batch=True))
        return tuple(self._waiting.popleft()) if self._waiting else None

    def close(self, cancel: bool = False) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - a scheduler gone away must not mask the result
            pass


def make_pool(workers: int, cluster: str | None) -> Any:
    """The executor of a run: the cluster at ``cluster``, else ``workers`` local processes."""
    return ClusterPool(cluster) if cluster else LocalPool(workers)


# ---------------------------------------------------------------------- the writer
@dataclass
class Outcome:
    """What a run did: units done (before and now), records written, failed units (key ->
    sentence), whether it was cancelled, and where it ran."""

    job: Job
    skipped: int = 0
    done: int = 0
    records: int = 0
    frames: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False
    where: str = ""
    steps: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job.id, "task": self.job.task, "units": len(self.job.units),
                "already_done": self.skipped, "done": self.done, "records": self.records,
                "frames": self.frames, "steps": self.steps, "failed": self.failed,
                "cancelled": self.cancelled, "finished": self.job.finished is not None,
                "where": self.where}


def prepare(doc: Any, task: Task, items: list[Any], options: dict[str, Any],
            resume: bool) -> tuple[Job, bool]:
    """The job to run and whether it is new: with ``resume``, the task's unfinished job
    (:class:`VellumError` when there is none); else a new job planned now (refused while a
    job of the task is unfinished; a job that already finished comes back as it is)."""
    from app.core.identity import utc_now

    unfinished = [j for j in jobs(doc) if j.task == task.name and j.finished is None]
    if resume:
        if not unfinished:
            raise VellumError(f"{doc.path} has no unfinished {task.name} job to resume.",
                              doc.path)
        return unfinished[-1], False
    if unfinished:
        j = unfinished[-1]
        done, _ = journal(doc, j)
        raise VellumError(f"{doc.path} has an unfinished {task.name} job ({len(done)} of "
                          f"{len(j.units)} units done, started {j.created}): finish it with "
                          f"'vellum batch {project_arg(doc)} --task {task.name} --resume' "
                          "before starting another.", doc.path)
    units = task.plan(doc, items, options)
    project = doc.store.meta().get("project_id", str(doc.path))
    jid = job_id(project, task.name, options, units)
    existing = next((j for j in jobs(doc) if j.id == jid), None)
    if existing is not None:
        return existing, False
    return Job(jid, task.name, options, units, utc_now()), True


def run_job(doc: Any, job: Job, task: Task, pool: Any, *, new: bool = True,
            progress: Callable[..., None] | None = None,
            cancelled: Callable[[], bool] | None = None) -> Outcome:
    """Run the units of ``job`` not done yet on ``pool`` and write their results as they
    come (see the module doc). ``progress(frames done, frames total, "units a/b")``; a
    ``KeyboardInterrupt`` or ``cancelled()`` drops the units in flight (what was committed
    stays; :func:`prepare` with ``resume`` finishes the job)."""
    from app.core.commands import Batch, SetMeta
    from app.core.identity import utc_now

    out = Outcome(job, where=getattr(pool, "where", ""))
    if new:  # the job's journal entry, with what the task needs set up first (classes)
        begin = getattr(task, "begin", None)
        first = [*(begin(doc, job) if begin is not None else []),
                 SetMeta({job.key: json.dumps(job.to_json())})]
        doc.execute(Batch(tuple(first), label=f"Start {job.task} job"))
    done, steps = journal(doc, job)
    todo = [u for u in job.units if u.key not in done]
    out.skipped = len(job.units) - len(todo)
    total = sum(u.frames for u in job.units)
    frames = sum(u.frames for u in job.units if u.key in done)
    writers: dict[str, Any] = {}
    units = {u.key: u for u in todo}
    for u in todo:
        mark = steps.get(u.key)
        run = task.resume(u, mark) if mark else u
        writers[u.key] = task.writer(doc, job, run, mark)
        if mark:
            frames += max(0, u.frames - run.frames)
        units[u.key] = run
    futures = {key: pool.submit(job.task, job.options, run) for key, run in units.items()}
    left = set(futures)

    def report() -> None:
        if progress is not None:
            progress(frames, total, f"units {len(job.units) - len(left)}/{len(job.units)}")

    report()
    try:
        while left:
            if cancelled is not None and cancelled():
                raise KeyboardInterrupt
            event = pool.next(POLL_S)
            if event is None:
                for key in list(left):  # a worker that died takes its unit with it
                    f = futures[key]
                    if f.done() and (f.cancelled() or f.exception() is not None):
                        out.failed[key] = _died(f)
                        left.discard(key)
                report()
                continue
            key, kind, data, n, last = event
            if key not in left:
                continue
            if kind == "error":
                out.failed[key] = str(data)
                left.discard(key)
                continue
            commands, mark, count = writers[key].step(pickle.loads(data), bool(last))
            notes: dict[str, str | None] = {}
            if last:
                notes[job.done_key(key)] = json.dumps({"time": utc_now()})
                notes[job.step_key(key)] = None
            elif mark is not None:
                notes[job.step_key(key)] = json.dumps(mark)
            doc.execute(Batch((*commands, SetMeta(notes)),
                              label=f"Batch {job.task}: {key}"))
            out.steps += 1
            out.records += count
            frames += int(n)
            out.frames += int(n)
            if last:
                out.done += 1
                left.discard(key)
            report()
    except KeyboardInterrupt:
        out.cancelled = True
        pool.close(cancel=True)
        return out
    except BaseException:  # the writer failed (a refused step, a full disk): stop the workers
        pool.close(cancel=True)
        raise
    pool.close()
    if not out.failed:
        job.finished = utc_now()
        doc.execute(SetMeta({job.key: json.dumps(job.to_json())},
                            label=f"Finish {job.task} job"))
    return out


def _died(future: Any) -> str:
    if future.cancelled():
        return "its worker was cancelled"
    exc = future.exception()
    return f"its worker stopped ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"


def project_arg(doc: Any) -> str:
    """The PROJECT to name in a command line for ``doc`` (its folder, or its file)."""
    return str(doc.folder if doc.path.name == "project.vellum" else doc.path)


def summary_lines(out: Outcome, project: str) -> list[str]:
    """What a run did, in plain lines (the CLI prints them)."""
    job = out.job
    lines = [f"Batch {job.task} job {job.id[:8]} on {out.where or 'no worker'}: "
             f"{out.done} unit(s) done now, {out.skipped} before, of {len(job.units)}; "
             f"{out.records} record(s) written over {out.frames} frame(s) "
             f"in {out.steps} step(s)."]
    for key, why in sorted(out.failed.items()):
        lines.append(f"  failed: {key}: {why}")
    if out.cancelled or out.failed:
        lines.append(f"What was committed is kept; run 'vellum batch {project} --task "
                     f"{job.task} --resume' to finish the job.")
    return lines


def remove_existing(doc: Any, media_id: str, ids: Iterable[str]) -> list[Any]:
    """The stored annotations of ``media_id`` among ``ids`` (a resumed unit's stale ones)."""
    found = (doc.annotation(media_id, i) for i in ids)
    return [a for a in found if a is not None]
