"""The connections under `Fetcher` (http_client.py): a requests adapter that connects to
the address the SSRF policy approved rather than resolving the name again, and the
watchdog that shuts a request's sockets when its total deadline passes (no per-read
timeout catches a server trickling a byte at a time). Both work through a per-thread
state set by `pinned_address` and `total_deadline`."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from digest.collector.addresses import AddressPolicy, IPAddress, Resolver, pick_address

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs


class _Deadline:
    """The total deadline of the request in hand on one thread: the sockets it uses, and
    whether the watchdog had to cut them."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.expired = False
        self._lock = threading.Lock()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.expired:
                _shut(sock)
            self.sockets.append(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self.sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    # Shutting down (not closing) wakes a thread blocked reading it, with an error.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()


class _Watchdog:
    """One thread for every request's total deadline. A timer thread per request would
    cost a thread start inside the host's slot, and the start waits for the new thread
    to get the GIL: under hundreds of host threads that wait was most of a request."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Deadline]] = []
        self._done: set[int] = set()
        self._wake = threading.Condition()
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: _Deadline, seconds: float) -> int:
        when = time.monotonic() + seconds
        with self._wake:
            token = next(self._count)
            heapq.heappush(self._due, (when, token, deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="fetch-deadlines")
                self._thread.daemon = True
                self._thread.start()
            elif self._due[0][1] == token:
                self._wake.notify()  # sooner than what the thread sleeps towards
            return token

    def remove(self, token: int) -> None:
        with self._wake:
            self._done.add(token)

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._due and self._due[0][1] in self._done:
                    self._done.discard(heapq.heappop(self._due)[1])
                if not self._due:
                    self._wake.wait()
                    continue
                when, _, deadline = self._due[0]
                left = when - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._due)
                deadline.expire()


_watchdog = _Watchdog()


@contextlib.contextmanager
def total_deadline(seconds: float) -> Iterator[_Deadline]:
    deadline = _Deadline()
    _current.deadline = deadline
    token = _watchdog.add(deadline, seconds)
    try:
        yield deadline
    finally:
        _watchdog.remove(token)
        _current.deadline = None


@contextlib.contextmanager
def pinned_address(host: str, port: int, ip: IPAddress) -> Iterator[None]:
    """Requests on this thread to `host`:`port` connect to `ip`, already checked (and
    used for the politeness gate), instead of resolving the name again."""
    _current.pinned = (host, port, ip)
    try:
        yield
    finally:
        _current.pinned = None


def _watch(sock: socket.socket | None) -> None:
    deadline: _Deadline | None = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    """Puts its socket (new or reused from the pool) under the request's deadline."""

    def connect(self) -> None:
        super().connect()
        _watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """The same, over TLS (super() in the class above reaches HTTPSConnection here)."""


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to the address the policy approved rather than letting urllib3 resolve
    the name again; the Host header and TLS name stay the original host name."""

    def __init__(self, *, resolver: Resolver, allowed: AddressPolicy) -> None:
        super().__init__(max_retries=0)
        self._resolver = resolver
        self._allowed = allowed

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }

    def build_connection_pool_key_attributes(
        self,
        request: requests.PreparedRequest,
        verify: bool | str,
        cert: str | tuple[str, str] | None = None,
    ) -> tuple[_HostParams, _PoolKwargs]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        hostname = host_params["host"]
        port = cast(int | None, host_params["port"])
        scheme: str = host_params["scheme"]
        effective_port = port or (443 if scheme == "https" else 80)
        pinned = getattr(_current, "pinned", None)
        if pinned is not None and pinned[:2] == (hostname.lower(), effective_port):
            ip = pinned[2]  # resolved and checked by Fetcher.get: see pinned_address
        else:
            ip = pick_address(
                hostname, effective_port, resolver=self._resolver, allowed=self._allowed
            )
        # A copy: the caller's header mapping may be shared between requests.
        request.headers = CaseInsensitiveDict(request.headers or {})
        host_header = f"[{hostname}]" if ":" in hostname else hostname
        request.headers["Host"] = host_header if port is None else f"{host_header}:{port}"
        if scheme == "https":
            tls = cast(dict[str, Any], pool_kwargs)  # urllib3 takes these; the stubs do not
            tls["assert_hostname"] = hostname
            tls["server_hostname"] = hostname
        host_params["host"] = f"[{ip}]" if ip.version == 6 else str(ip)
        return host_params, pool_kwargs

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        # The old entry point would skip the pinning above.
        raise NotImplementedError("use get_connection_with_tls_context")
