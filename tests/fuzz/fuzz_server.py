"""Fork server for the fuzz suite: imports the ``vellum`` CLI and its readers once, then forks
one child per case (``python tests/fuzz/fuzz_server.py``; requests and answers are JSON lines
on stdin and on the stdout it had at start).

A child is what ``python -m app ARGV`` would be, minus the interpreter start: a session and
process group of its own, an address-space and file-size cap, stdout/stderr to files, stdin
from /dev/null, ``sys.exit(app.cli.main(argv))`` with an uncaught exception printed by
``sys.excepthook`` as the interpreter would, and the interpreter's exit steps (non-daemon
threads joined, atexit handlers run). The server starts no threads and creates no runtime
sessions, so forking is safe; it never runs product code itself.

Request: {"argv": [...], "cwd": DIR, "env": {...}, "timeout": s, "mem": bytes,
"fsize": bytes, "out": DIR}. Answer: {"rc": int|null, "signal": int|null, "timed_out": bool,
"wall": s}. ``out`` receives ``stdout``, ``stderr`` and, if the command tried to use the
network, ``network`` (the refused audit events).
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import time


def _preload() -> None:
    """Import everything the commands under test use, so a case costs a fork, not an import."""
    import importlib
    import pkgutil

    import app

    skip = ("app.widgets", "app.demo", "app.tools", "app.__main__")
    for mod in pkgutil.walk_packages(app.__path__, "app."):
        if not mod.name.startswith(skip):
            try:
                importlib.import_module(mod.name)
            except Exception:  # a module another engineer is halfway through: the case says
                pass
    for name in ("av", "cv2", "pydicom", "pydicom.pixels", "nibabel", "onnx", "onnxruntime",
                 "ijson", "PIL.Image"):
        try:
            importlib.import_module(name)
        except Exception:
            pass


def _child(req: dict, proto_fds: tuple[int, ...]) -> None:
    """Runs in the forked child; never returns."""
    code = 1
    try:
        os.setsid()
        for fd in proto_fds:
            os.close(fd)
        out = req["out"]
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        fo = os.open(os.path.join(out, "stdout"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        fe = os.open(os.path.join(out, "stderr"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fo, 1)
        os.dup2(fe, 2)
        os.close(fo)
        os.close(fe)
        import io

        def stream(fd: int, like, line_buffering: bool):
            return io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding=like.encoding,
                                    errors=like.errors, line_buffering=line_buffering)

        sys.stdout = sys.__stdout__ = stream(1, _STDIO[0], False)
        sys.stderr = sys.__stderr__ = stream(2, _STDIO[1], True)
        sys.stdin = sys.__stdin__ = open(os.devnull, encoding="utf-8")
        for lim, value in ((resource.RLIMIT_AS, req["mem"]), (resource.RLIMIT_FSIZE, req["fsize"]),
                           (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(lim, (value, value))
        os.chdir(req["cwd"])
        os.environ.update(req["env"])
        import tempfile

        tempfile.tempdir = None
        net_log = os.path.join(out, "network")

        def no_network(event: str, args: tuple) -> None:
            if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo"):
                with open(net_log, "a", encoding="utf-8") as f:
                    f.write(f"{event} {args!r}\n")
                raise OSError(f"fuzz harness: network use refused ({event})")

        sys.addaudithook(no_network)
        import faulthandler

        faulthandler.enable(sys.stderr)  # a crash also leaves its C-level stack for the report
        sys.argv = ["vellum", *req["argv"]]
        import app.cli

        main = _selftest if req["argv"][:1] == ["__fuzz_selftest__"] else app.cli.main
        try:
            code = main(req["argv"])
        except SystemExit as exc:
            code = exc.code
        except BaseException:
            sys.excepthook(*sys.exc_info())  # what the interpreter prints for an uncaught one
            code = 1
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        # The interpreter's exit steps: join non-daemon threads, run atexit handlers.
        import atexit
        import threading

        try:
            threading._shutdown()  # type: ignore[attr-defined]
            atexit._run_exitfuncs()
        except BaseException:
            sys.excepthook(*sys.exc_info())
        try:
            sys.stdout.flush()
        except BaseException:
            sys.excepthook(*sys.exc_info())
            code = code or 120  # as the interpreter does when flushing stdout fails
        sys.stderr.flush()
    except BaseException:
        try:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:
            pass
        code = 1
    os._exit(code & 0xFF)


def _selftest(argv: list[str]) -> int:
    """What the harness must catch, on demand (tests/fuzz/test_fuzz_seeds.py)."""
    what = argv[1]
    if what == "segfault":
        import ctypes

        ctypes.string_at(0)
    elif what == "hang":
        import threading

        threading.Event().wait()
    elif what == "raise":
        raise ValueError("an uncaught exception")
    elif what == "thread":  # a non-daemon thread that never ends: the exit must wait for it
        import threading

        threading.Thread(target=threading.Event().wait).start()
    elif what == "memory":
        return len(bytearray(8 << 30))
    elif what == "network":
        import socket

        socket.getaddrinfo("localhost", 9)  # the audit hook refuses it before any lookup
    return 0


def _wait(pid: int, timeout: float) -> tuple[int | None, int | None, bool]:
    """(exit code, signal, timed_out) of child ``pid``; its group is killed afterwards."""
    deadline = time.monotonic() + timeout
    timed_out = False
    status = None
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    while True:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        if pidfd is not None:
            select.select([pidfd], [], [], min(left, 1.0))
        else:
            time.sleep(min(left, 0.01))
    if pidfd is not None:
        os.close(pidfd)
    try:
        os.killpg(pid, signal.SIGKILL)  # the group: whatever the command started, too
    except (ProcessLookupError, PermissionError):
        pass
    if status is None:
        _, status = os.waitpid(pid, 0)
    if timed_out:
        return None, None, True
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status), False
    return os.WEXITSTATUS(status), None, False


_STDIO: tuple = ()


def main() -> None:
    global _STDIO
    reply_fd = os.dup(1)
    request_fd = os.dup(0)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)  # nothing the imports print can corrupt the answers
    os.close(null)
    _STDIO = (sys.stdout, sys.stderr)
    _preload()
    replies = os.fdopen(reply_fd, "w", encoding="utf-8", buffering=1)
    requests = os.fdopen(request_fd, "r", encoding="utf-8")
    replies.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    for line in requests:
        if not line.strip():
            continue
        req = json.loads(line)
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(req, (reply_fd, request_fd))
        rc, sig, timed_out = _wait(pid, float(req["timeout"]))
        replies.write(json.dumps({"rc": rc, "signal": sig, "timed_out": timed_out,
                                  "wall": round(time.monotonic() - start, 3)}) + "\n")


if __name__ == "__main__":
    main()
