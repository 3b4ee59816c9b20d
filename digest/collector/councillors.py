"""Councillors from ModernGov's `GetCouncillorsByWard` (and, for one postcode,
`GetCouncillorsByPostcode`): parse, then store keeping history.

Council text is untrusted: every value is cleaned to plain inline text and capped in
length; photo addresses are ignored (we never show or hot-link council photos).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from xml.etree.ElementTree import Element

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from digest.collector.http_client import Fetched, Fetcher, FetchError
from digest.collector.moderngov import service_url
from digest.collector.safexml import BadResponse, parse_document, text
from digest.htmltext import clean_inline
from digest.models import Council, Councillor, CouncilStatus, CouncilSystem

BY_WARD_ROOTS = frozenset({"councillorsbyward"})
# GetCouncillorsByPostcode's root is not documented; these are the shapes we accept.
BY_POSTCODE_ROOTS = frozenset({"councillorsbypostcode", "councillorsbyward", "councillors"})
MAX_ROLES = 10
_HONORIFIC = re.compile(r"^(?:councillor|cllr\.?)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedCouncillor:
    source_id: str
    name: str
    party: str
    ward: str
    roles: tuple[str, ...]


def by_ward_url(base_url: str) -> str:
    return service_url(base_url, "GetCouncillorsByWard")


def by_postcode_url(base_url: str, postcode: str) -> str:
    return service_url(base_url, "GetCouncillorsByPostcode") + f"?sPostcode={quote(postcode)}"


def _capped(value: str | None, limit: int) -> str:
    return clean_inline(value or "")[:limit]


def _roles(element: Element) -> tuple[str, ...]:
    roles: list[str] = []
    for path in ("keyposts", "representing"):
        for part in re.split(r"[;\n\r|]+", text(element, path)):
            role = _capped(part, 200).strip(" ,.")
            if role and role not in roles:
                roles.append(role)
    return tuple(roles[:MAX_ROLES])


def _councillors(root: Element) -> Iterator[ParsedCouncillor]:
    wards = root.findall(".//ward")
    pairs: list[tuple[str, Element]] = [
        (text(ward, "wardtitle"), c) for ward in wards for c in ward.findall(".//councillor")
    ]
    if not wards:
        pairs = [
            (text(c, "wardtitle") or text(c, "districttitle"), c) for c in root.iter("councillor")
        ]
    seen: set[str] = set()
    for ward, element in pairs:
        source_id = _capped(text(element, "councillorid"), 40)
        name = _HONORIFIC.sub("", _capped(text(element, "fullusername"), 200))
        if not source_id or not name or source_id in seen:
            continue  # one bad row never stops the rest
        seen.add(source_id)
        yield ParsedCouncillor(
            source_id=source_id,
            name=name,
            party=_capped(text(element, "politicalpartytitle"), 200),
            ward=_capped(ward, 200),
            roles=_roles(element),
        )


def parse_by_ward(fetched: Fetched) -> list[ParsedCouncillor]:
    root = parse_document(fetched, BY_WARD_ROOTS, "GetCouncillorsByWard")
    return list(_councillors(root))


def parse_by_postcode(fetched: Fetched) -> list[str]:
    """The councillor ids for one postcode's ward."""
    root = parse_document(fetched, BY_POSTCODE_ROOTS, "GetCouncillorsByPostcode")
    return [c.source_id for c in _councillors(root)]


def fetch_by_ward(fetcher: Fetcher, base_url: str) -> list[ParsedCouncillor]:
    """Raises FetchError (BadResponse included)."""
    return parse_by_ward(fetcher.get(by_ward_url(base_url)))


@dataclass(frozen=True)
class CouncillorsStored:
    new: int
    left: int
    current: int


def store(
    session: Session, council: Council, parsed: Sequence[ParsedCouncillor], now: datetime
) -> CouncillorsStored:
    """Upsert by (council, ModernGov id); someone no longer listed gets `left_at`, and
    comes back if listed again. An empty list changes nothing (a site answering with no
    wards is broken, not an empty council). Does not commit."""
    if not parsed:
        raise BadResponse("GetCouncillorsByWard: the site listed no councillors")
    existing = {
        c.source_id: c
        for c in session.scalars(sa.select(Councillor).where(Councillor.council_id == council.id))
    }
    new = left = 0
    for p in parsed:
        row = existing.pop(p.source_id, None)
        if row is None:
            session.add(
                Councillor(
                    council_id=council.id,
                    source_id=p.source_id,
                    name=p.name,
                    party=p.party,
                    ward=p.ward,
                    roles=list(p.roles),
                    first_seen_at=now,
                    last_seen_at=now,
                    left_at=None,
                )
            )
            new += 1
            continue
        row.name, row.party, row.ward, row.roles = p.name, p.party, p.ward, list(p.roles)
        row.last_seen_at = now
        row.left_at = None
    for row in existing.values():
        if row.left_at is None:
            row.left_at = now
            left += 1
    return CouncillorsStored(new=new, left=left, current=len(parsed))


def collect_all(
    sessions: sessionmaker[Session], fetcher: Fetcher, now: datetime, slugs: Sequence[str] = ()
) -> list[tuple[str, str | None]]:
    """Every enabled ModernGov council (or the named ones): (slug, error or None). One
    council's failure never stops the others; each is stored in its own transaction."""
    with sessions() as session:
        stmt = sa.select(Council.id, Council.slug, Council.base_url).where(Council.base_url != "")
        if slugs:
            stmt = stmt.where(Council.slug.in_(list(slugs)))
        else:
            stmt = stmt.where(
                Council.status == CouncilStatus.ENABLED, Council.system == CouncilSystem.MODERNGOV
            )
        targets = session.execute(stmt.order_by(Council.slug)).all()
    outcomes: list[tuple[str, str | None]] = []
    for council_id, slug, base_url in targets:
        try:
            parsed = fetch_by_ward(fetcher, base_url)
            with sessions.begin() as session:
                store(session, session.get_one(Council, council_id), parsed, now)
            outcomes.append((slug, None))
        except FetchError as exc:
            outcomes.append((slug, str(exc)))
    return outcomes
