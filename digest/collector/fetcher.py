"""Fetching council URLs safely and politely.

* Every connection goes to an address checked by `addresses.pick_address`, and to that
  very address (the adapter pins it), so a DNS answer that changes between check and
  connect (rebinding) gains nothing. TLS still verifies the certificate for the name.
* Redirects are followed by hand, each hop checked and queued behind its host's gate.
* Bodies are read as a stream and refused past `max_response_bytes` (after
  decompression). Every request has a total deadline of twice `timeout`, from the
  connection to the last byte: a watchdog shuts the request's socket when it passes, so
  a server trickling its answer a byte at a time (which no per-read timeout catches)
  costs at most that, and holds its host's queue no longer.
* Stored ETag / Last-Modified make the request conditional; 304 means "unchanged".

Every failure is a `FetchError` whose message a council officer could act on.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from digest.collector.addresses import (
    AddressPolicy,
    AddressRefused,
    IPAddress,
    Resolver,
    pick_address,
    policy,
    system_resolver,
)
from digest.collector.politeness import HostGate
from digest.config import CollectorConfig

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 16 * 1024


class FetchError(Exception):
    """A request that did not give us a usable answer; the message says why, plainly.
    `status` is the HTTP status when the server answered with an error (else 0)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Validator:
    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class Fetched:
    url: str  # as asked for
    final_url: str  # after redirects
    status: int
    body: bytes
    content_type: str
    validator: Validator

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


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
def _total_deadline(seconds: float) -> Iterator[_Deadline]:
    deadline = _Deadline()
    _current.deadline = deadline
    token = _watchdog.add(deadline, seconds)
    try:
        yield deadline
    finally:
        _watchdog.remove(token)
        _current.deadline = None


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
            ip = pinned[2]  # resolved and checked by Fetcher.get for its politeness gate
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


class Fetcher:
    """GETs URLs for the collector. Safe to share between threads (one requests
    session per thread); all requests share one `HostGate`."""

    def __init__(
        self,
        config: CollectorConfig,
        *,
        gate: HostGate | None = None,
        resolver: Resolver = system_resolver,
        ca_bundle: str | None = None,
        address_allowed: AddressPolicy | None = None,
    ) -> None:
        self.config = config
        self.ca_bundle = ca_bundle  # trust this CA bundle instead of the default one
        self.gate = gate or HostGate(config.per_host_interval)
        self.resolver = resolver
        self.address_allowed = address_allowed or policy(config.allow_private_hosts)
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # Proxies from the environment would connect on our behalf, past the pinning.
            session.trust_env = False
            if self.ca_bundle:
                session.verify = self.ca_bundle
            adapter = PinnedAddressAdapter(resolver=self.resolver, allowed=self.address_allowed)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers.update(
                {
                    "User-Agent": self.config.user_agent,
                    "Accept": "text/xml, application/xml;q=0.9, */*;q=0.1",
                }
            )
            self._local.session = session
        return session

    def get(
        self, url: str, *, validator: Validator | None = None, timeout: float | None = None
    ) -> Fetched:
        """GET `url`, following up to five redirects. Raises FetchError. `timeout`
        replaces `[collector] timeout` for slow systems (CMIS month pages)."""
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            scheme = urlsplit(current).scheme.lower()
            host = urlsplit(current).hostname
            if scheme not in ("http", "https") or not host:
                raise FetchError(f"{current} is not an http(s) address")
            port = urlsplit(current).port or (443 if scheme == "https" else 80)
            ip = self._resolve(current, host, port)
            # The gate is the server, not the name: two names for one address (or two
            # councils' names for one shared install) share its queue.
            gate = str(ip)
            _current.pinned = (host.lower(), port, ip)
            try:
                status, headers, body = self._polite(current, gate, validator, timeout)
            finally:
                _current.pinned = None
            if status in _REDIRECTS and headers.get("Location"):
                current = urljoin(current, headers["Location"].strip())
                continue
            if status == 304 and validator is not None:
                return Fetched(url, current, 304, b"", "", validator)
            if status >= 400 or status < 200 or status in _REDIRECTS:
                raise FetchError(_status_message(status, headers.get("Reason", "")), status=status)
            return Fetched(
                url,
                current,
                status,
                body,
                headers.get("Content-Type", ""),
                Validator(headers.get("ETag") or None, headers.get("Last-Modified") or None),
            )
        raise FetchError(f"more than {MAX_REDIRECTS} redirects; gave up at {current}")

    def _resolve(self, url: str, host: str, port: int) -> IPAddress:
        try:
            return pick_address(host, port, resolver=self.resolver, allowed=self.address_allowed)
        except AddressRefused as exc:
            raise FetchError(f"{host}: {exc}") from exc
        except OSError as exc:
            raise FetchError(_network_message(exc, url, self.config.timeout)) from exc

    def _polite(
        self, url: str, gate: str, validator: Validator | None, timeout: float | None = None
    ) -> tuple[int, CaseInsensitiveDict[str], bytes]:
        """One request through the host's gate; a 503 or 429 with a Retry-After of up
        to `timeout` seconds is honoured once (the host's queue waits it out)."""
        retried = False
        while True:
            with self.gate.slot(gate):
                status, headers, body = self._one(url, validator, timeout)
            wait = retry_after(headers.get("Retry-After", "")) if status in (429, 503) else None
            if wait is None:
                return status, headers, body
            if retried or wait > self.config.timeout:
                label = _status_message(status, headers.get("Reason", ""))
                raise FetchError(
                    f"{label}; it asks us to come back in {wait:.0f} seconds, "
                    "so it is tried again at the next collection"
                )
            self.gate.hold(gate, wait)
            retried = True

    def _one(
        self, url: str, validator: Validator | None, timeout: float | None = None
    ) -> tuple[int, CaseInsensitiveDict[str], bytes]:
        timeout = timeout or self.config.timeout
        with _total_deadline(timeout * 2) as deadline:
            try:
                return self._read(url, validator, timeout)
            except FetchError:
                if deadline.expired:
                    raise FetchError(_too_slow(timeout)) from None
                raise
            except (requests.RequestException, OSError) as exc:
                # OSError: name resolution inside the adapter, or the cut socket
                if deadline.expired:
                    raise FetchError(_too_slow(timeout)) from exc
                raise FetchError(_network_message(exc, url, timeout)) from exc

    def _read(
        self, url: str, validator: Validator | None, timeout: float
    ) -> tuple[int, CaseInsensitiveDict[str], bytes]:
        limit = self.config.max_response_bytes
        try:
            response = self._session().get(
                url,
                headers=validator.headers() if validator else None,
                timeout=(timeout, timeout),
                allow_redirects=False,
                stream=True,
            )
        except AddressRefused as exc:
            raise FetchError(f"{urlsplit(url).hostname}: {exc}") from exc
        with response:
            headers = CaseInsensitiveDict(dict(response.headers))
            headers["Reason"] = response.reason or ""
            declared = headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchError(_too_big(limit))
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise FetchError(_too_big(limit))
                chunks.append(chunk)
            return response.status_code, headers, b"".join(chunks)


def retry_after(value: str) -> float | None:
    """Seconds a Retry-After header asks for (delay-seconds or an HTTP date); None when
    absent or unreadable."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _too_slow(timeout: float) -> str:
    return f"the answer took longer than {timeout * 2:g} seconds to arrive; gave up"


def _too_big(limit: int) -> str:
    return f"the answer is larger than {limit:,} bytes ([collector] max_response_bytes); refused"


def _status_message(status: int, reason: str) -> str:
    reason = reason.title() if reason.isupper() else reason
    label = f"HTTP {status}{' ' + reason if reason else ''}"
    if status in (401, 403):
        return f"{label}: the site refused us (a firewall or login in front of the web service?)"
    if status == 404:
        return f"{label}: no web service at this address (is the base URL right?)"
    if status == 429:
        return f"{label}: the site asks us to slow down"
    if status >= 500:
        return f"{label}: the site had a server error or is down"
    if status in _REDIRECTS:
        return f"{label}: a redirect without a Location"
    return f"{label}: unexpected answer"


def _network_message(exc: BaseException, url: str, timeout: float) -> str:
    host = urlsplit(url).hostname or url
    if isinstance(exc, requests.Timeout) or _timed_out(exc):
        return f"{host} did not answer within {timeout:g} seconds"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"{host}: TLS (https) certificate or handshake problem: {_root(exc)}"
    text = _root(exc)
    if any(s in text for s in ("not known", "name resolution", "getaddrinfo", "nodename")):
        return f"{host} does not resolve (no DNS entry)"
    if "refused" in text.lower():
        return f"{host}: connection refused"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.ConnectionError):
        return f"{host}: the connection failed or was cut off ({text})"
    return f"{host}: {text}"


def _timed_out(exc: BaseException) -> bool:
    """Whether a read timed out somewhere down the chain (requests reports a read timeout
    in the middle of a body as a connection error)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError | socket.timeout) or "timed out" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _root(exc: BaseException) -> str:
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        nxt = seen.__cause__ or seen.__context__
        assert nxt is not None
        seen = nxt
    return str(seen) or type(seen).__name__
