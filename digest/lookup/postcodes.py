"""Postcode → councils through a postcodes.io-compatible API.

The postcode's shape is checked before any request. Answers (including "no such
postcode") are cached in this process and in `lookup_cache` for `[lookup] cache_hours`;
failures are not cached. Requests go through the collector's fetcher, so the API's
address is checked like any council's (no private addresses unless
`[collector] allow_private_hosts`) and the answer is size- and time-limited.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from digest.collector.http_client import Fetcher, FetchError
from digest.collector.politeness import HostGate
from digest.config import Config
from digest.db import fit
from digest.models import Councillor, LookupCache

# The UK postcode shapes (BS 7666): outward code A9, A99, AA9, AA99, A9A, AA9A; inward 9AA.
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})$")
_LOOKS_LIKE = re.compile(r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]?\s*[0-9]?[A-Za-z]{0,2}$")
_MAX_BYTES = 256 * 1024
_MEMORY_ENTRIES = 10_000


def normalise(text: str) -> str | None:
    """'wn11yn' → 'WN1 1YN'; None when `text` is not shaped like a full UK postcode."""
    compact = re.sub(r"\s+", "", text.upper())
    if len(compact) > 8:
        return None
    match = _POSTCODE.match(compact)
    return f"{match.group(1)} {match.group(2)}" if match else None


def looks_like_postcode(text: str) -> bool:
    """A query that starts like a postcode ('WN1', 'WN1 1Y'): answer with postcode help
    rather than a name search for it."""
    stripped = text.strip()
    return (
        bool(stripped)
        and len(stripped) <= 9
        and bool(_LOOKS_LIKE.match(stripped))
        and any(c.isdigit() for c in stripped)
    )


class LookupUnavailable(Exception):
    """The postcode service could not answer; the message says so plainly."""


@dataclass(frozen=True)
class PostcodeAnswer:
    postcode: str
    found: bool
    gss_codes: tuple[str, ...] = ()  # district first, then county
    ward: str = ""
    ward_code: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "postcode": self.postcode,
            "found": self.found,
            "gss_codes": list(self.gss_codes),
            "ward": self.ward,
            "ward_code": self.ward_code,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PostcodeAnswer:
        return cls(
            postcode=str(data.get("postcode", "")),
            found=bool(data.get("found")),
            gss_codes=tuple(str(c) for c in data.get("gss_codes", [])),
            ward=str(data.get("ward", "")),
            ward_code=str(data.get("ward_code", "")),
        )


class _Unqueued(HostGate):
    """Postcode look-ups answer people waiting on a page: no politeness queue."""

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        yield


def lookup_fetcher(config: Config, **options: Any) -> Fetcher:
    """The collector's fetcher with the look-up timeout and a small size cap."""
    settings = dataclasses.replace(
        config.collector, timeout=config.lookup.timeout, max_response_bytes=_MAX_BYTES
    )
    return Fetcher(settings, gate=_Unqueued(0), **options)


def parse_answer(postcode: str, body: bytes) -> PostcodeAnswer:
    """A postcodes.io `/postcodes/<pc>` answer → the councils' GSS codes. Raises
    LookupUnavailable for anything not shaped like one."""
    try:
        data = json.loads(body)
        result = data["result"]
        codes = result.get("codes") or {}
        found: list[str] = []
        for key in ("admin_district", "admin_county"):
            code = codes.get(key)
            # E99999999 and the like are ONS pseudo codes: "no county here".
            if (
                isinstance(code, str)
                and re.fullmatch(r"[EWSN]\d{8}", code)
                and not code.endswith("99999999")
                and code not in found
            ):
                found.append(code)
        ward = result.get("admin_ward") or ""
        ward_code = codes.get("admin_ward") or ""
        canonical = result.get("postcode") or postcode
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LookupUnavailable("the postcode service gave an answer we could not read") from exc
    return PostcodeAnswer(
        postcode=normalise(str(canonical)) or postcode,
        found=True,
        gss_codes=tuple(found),
        ward=fit(Councillor.ward, str(ward)),
        ward_code=str(ward_code)[:20],
    )


class PostcodeLookup:
    """One per process; thread-safe."""

    def __init__(
        self, config: Config, sessions: sessionmaker[Session], fetcher: Fetcher | None = None
    ) -> None:
        self.api = config.lookup.postcode_api.rstrip("/")
        self.ttl = timedelta(hours=config.lookup.cache_hours)
        self.sessions = sessions
        self.fetcher = fetcher or lookup_fetcher(config)
        self._memory: dict[str, tuple[datetime, PostcodeAnswer]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.api)

    def lookup(self, postcode: str, now: datetime) -> PostcodeAnswer:
        """`postcode` already normalised. Raises LookupUnavailable."""
        if not self.enabled:
            raise LookupUnavailable("postcode search is turned off on this site")
        key = f"postcode:{postcode}"
        with self._lock:
            hit = self._memory.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        answer = self._from_database(key, now)
        if answer is None:
            answer = self._ask(postcode)
            self._store(key, answer, now)
        with self._lock:
            if len(self._memory) >= _MEMORY_ENTRIES:
                self._memory.clear()
            self._memory[key] = (now, answer)
        return answer

    def _from_database(self, key: str, now: datetime) -> PostcodeAnswer | None:
        with self.sessions() as session:
            row = session.get(LookupCache, key)
            if row is None or now - row.fetched_at >= self.ttl:
                return None
            return PostcodeAnswer.from_json(row.value)

    def _store(self, key: str, answer: PostcodeAnswer, now: datetime) -> None:
        try:
            with self.sessions.begin() as session:
                store(session, key, answer.as_json(), now)
        except sa.exc.IntegrityError:
            pass  # another request stored the same answer first

    def _ask(self, postcode: str) -> PostcodeAnswer:
        url = f"{self.api}/postcodes/{quote(postcode.replace(' ', ''))}"
        try:
            fetched = self.fetcher.get(url)
        except FetchError as exc:
            if exc.status == 404:
                return PostcodeAnswer(postcode=postcode, found=False)
            raise LookupUnavailable(
                "the postcode service is not answering right now; search by council name "
                "or town instead"
            ) from exc
        return parse_answer(postcode, fetched.body)


def store(session: Session, key: str, value: dict[str, Any], now: datetime) -> None:
    """Upsert one cached answer; does not commit."""
    row = session.get(LookupCache, key)
    if row is None:
        session.add(LookupCache(key=key, value=value, fetched_at=now))
    else:
        row.value = value
        row.fetched_at = now


def purge(session: Session, now: datetime, older_than: timedelta) -> int:
    result = session.execute(
        sa.delete(LookupCache).where(LookupCache.fetched_at < now - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
