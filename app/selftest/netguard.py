"""Did anything in this process touch the network? A Python audit hook, active while a
:class:`NetworkGuard` is open, records every socket made for IPv4/IPv6, every connect, bind or
send to an internet address and every host-name lookup (they can reach a DNS server), from any
thread. Local sockets (``AF_UNIX``) are counted, not flagged.

Audit hooks cannot be removed, so one hook is installed on first use and does nothing (one
comparison) while no guard is open.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

CONTROL_EVENT = "vellum.selftest.control"
# Address families by number: the app never imports the socket module (a test checks it).
# AF_INET is 2 everywhere; AF_INET6 is 10 on Linux, 23 on Windows, 30 on macOS, 28 on BSD.
AF_INET = 2
AF_INET6 = {"win32": 23, "darwin": 30}.get(sys.platform,
                                           28 if sys.platform.startswith("freebsd") else 10)
_INET = {AF_INET, AF_INET6}
_ADDRESS_EVENTS = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"}
_LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
            "socket.gethostbyaddr", "socket.getnameinfo"}
_ACTIVE: list[NetworkGuard] = []
_LOCK = threading.Lock()
_INSTALLED = False


def _describe(event: str, args: tuple[Any, ...]) -> str | None:
    """A few words for a network use, or None for an event that is not one."""
    if event == "socket.__new__":
        family = args[1] if len(args) > 1 else None
        if family in _INET:
            return f"a {'IPv6' if family == AF_INET6 else 'IPv4'} socket was made"
        return None
    if event in _ADDRESS_EVENTS:
        address = args[1] if len(args) > 1 else None
        if isinstance(address, tuple):
            return f"{event.split('.')[1]} to {address[:2]!r}"
        return None
    if event in _LOOKUPS:
        return f"{event.split('.')[1]}({str(args[0])[:60] if args else ''!r})"
    return None


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _ACTIVE:
        return
    try:
        if event == CONTROL_EVENT:
            for guard in list(_ACTIVE):
                guard.control = True
            return
        if not event.startswith("socket."):
            return
        what = _describe(event, args)
        for guard in list(_ACTIVE):
            guard.socket_events += 1
            if what is not None and len(guard.network) < 50:
                guard.network.append(what)
    except Exception:  # noqa: BLE001 - an audit hook must never break what it watches
        pass


class NetworkGuard:
    """``with NetworkGuard() as g: ...`` then ``g.network`` (what touched the network, in
    words), ``g.socket_events`` (every socket event seen) and :meth:`works`."""

    def __init__(self) -> None:
        self.network: list[str] = []
        self.socket_events = 0
        self.control = False

    def __enter__(self) -> NetworkGuard:
        global _INSTALLED
        with _LOCK:
            if not _INSTALLED:
                sys.addaudithook(_hook)
                _INSTALLED = True
            _ACTIVE.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        with _LOCK:
            if self in _ACTIVE:
                _ACTIVE.remove(self)

    def works(self) -> bool:
        """Raise a private audit event and say whether the hook saw it."""
        sys.audit(CONTROL_EVENT)
        return self.control
