"""Fetching council URLs safely and politely.

* Every connection goes to an address checked by `addresses.pick_address`, and to that
  very address (the adapter in connections.py pins it), so a DNS answer that changes
  between check and connect (rebinding) gains nothing. TLS still verifies the
  certificate for the name.
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

import email.utils
import hashlib
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from digest.collector.addresses import (
    AddressPolicy,
    AddressRefused,
    IPAddress,
    Resolver,
    pick_address,
    policy,
    system_resolver,
)
from digest.collector.connections import PinnedAddressAdapter, pinned_address, total_deadline
from digest.collector.politeness import HostGate
from digest.config import CollectorConfig

if TYPE_CHECKING:
    pass

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
            with pinned_address(host.lower(), port, ip):
                status, headers, body = self._polite(current, gate, validator, timeout)
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
        with total_deadline(timeout * 2) as deadline:
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
