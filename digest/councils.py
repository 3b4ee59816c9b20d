"""The council directory: importing the bundled list and finding councils."""

from __future__ import annotations

import csv
import importlib.resources
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.db import count_by
from digest.models import Council, CouncilStatus, CouncilSystem

SYSTEMS = {
    "moderngov": CouncilSystem.MODERNGOV,
    "cmis": CouncilSystem.CMIS,
    "jadu": CouncilSystem.JADU,
    "other": CouncilSystem.OTHER,
    "unknown": CouncilSystem.UNKNOWN,
}
# Columns refreshed from the bundled list on every import. The base URL and status are
# operators' to change, so an import fills them in once and never overwrites them.
DESCRIPTIVE = (
    "name",
    "short_name",
    "nation",
    "gss_code",
    "local_authority_code",
    "council_type",
    "website",
    "system",
    "shared_install_with",
)


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def bundled_rows() -> Iterator[dict[str, str]]:
    source = importlib.resources.files("digest") / "data" / "councils.csv"
    yield from csv.DictReader(io.StringIO(source.read_text(encoding="utf-8"), newline=""))


def _values(row: dict[str, str]) -> dict[str, object]:
    return {
        "name": row["name"].strip(),
        "short_name": row["short_name"].strip() or row["name"].strip(),
        "nation": row["nation"].strip(),
        "gss_code": row["gss_code"].strip(),
        "local_authority_code": row["local_authority_code"].strip(),
        "council_type": row["council_type"].strip(),
        "website": row["website"].strip(),
        "system": SYSTEMS.get(row["system"].strip().lower(), CouncilSystem.UNKNOWN),
        "shared_install_with": row["shared_install_with"].strip(),
        "base_url": row["democracy_base_url"].strip().rstrip("/"),
    }


def import_bundled(session: Session, now: datetime) -> ImportResult:
    """Create missing councils and refresh descriptive fields; does not commit."""
    existing = {c.slug: c for c in session.scalars(sa.select(Council))}
    created = updated = unchanged = 0
    for row in bundled_rows():
        slug = row["slug"].strip()
        values = _values(row)
        council = existing.get(slug)
        if council is None:
            session.add(
                Council(
                    slug=slug,
                    status=CouncilStatus.WAITLIST,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
            )
            created += 1
            continue
        changes = {
            k: values[k]
            for k in DESCRIPTIVE
            if getattr(council, k) != values[k]
            # A system found by a probe or set by an admin outranks the bundled list.
            and not (k == "system" and council.system_source != "list")
        }
        if not council.base_url and values["base_url"]:
            changes["base_url"] = values["base_url"]
        if changes:
            for key, value in changes.items():
                setattr(council, key, value)
            council.updated_at = now
            updated += 1
        else:
            unchanged += 1
    return ImportResult(created=created, updated=updated, unchanged=unchanged)


_BY_SLUG = sa.select(Council).where(Council.slug == sa.bindparam("slug"))


def set_base_url(council: Council, base_url: str, now: datetime) -> bool:
    """Point the council at a new democracy website address; False if it was already
    there. A probe of the old address no longer says anything about the council, so its
    outcome is forgotten: a failure would otherwise stand on the admin pages (and keep
    auto-enable waiting) after the address was fixed."""
    value = base_url.strip().rstrip("/")
    if value == council.base_url:
        return False
    council.base_url = value
    council.updated_at = now
    council.last_probe_at = None
    council.last_probe_ok = None
    council.last_probe_message = None
    return True


def index_letter(council: Council) -> str:
    """The A-Z index letter a council is filed under: its short name's ("London Borough
    of Camden" is found under C, as people call it Camden)."""
    first = (council.short_name or council.name)[:1].upper()
    return first if "A" <= first <= "Z" else "#"


def by_letter(found: Sequence[Council]) -> dict[str, list[Council]]:
    """`found` by index letter, each letter's councils by short name."""
    letters: dict[str, list[Council]] = {}
    for council in sorted(found, key=lambda c: ((c.short_name or c.name).lower(), c.name)):
        letters.setdefault(index_letter(council), []).append(council)
    return dict(sorted(letters.items()))


def get_by_slug(session: Session, slug: str) -> Council | None:
    return session.scalar(_BY_SLUG, {"slug": slug})


def enabled(session: Session, *, by_name: bool = False) -> list[Council]:
    """Enabled councils, by slug (or by name, for people to choose from)."""
    order = Council.name if by_name else Council.slug
    return list(
        session.scalars(
            sa.select(Council).where(Council.status == CouncilStatus.ENABLED).order_by(order)
        )
    )


def enabled_ids(session: Session, slugs: Sequence[str]) -> dict[str, int]:
    """The ids of those of `slugs` that name enabled councils, by slug."""
    rows = session.execute(
        sa.select(Council.slug, Council.id).where(
            Council.slug.in_(list(slugs)), Council.status == CouncilStatus.ENABLED
        )
    )
    return {slug: council_id for slug, council_id in rows}


def never_collected(session: Session) -> list[str]:
    """Slugs of enabled councils collection has never tried (newly enabled ones)."""
    return list(
        session.scalars(
            sa.select(Council.slug).where(
                Council.status == CouncilStatus.ENABLED, Council.last_attempt_at.is_(None)
            )
        )
    )


def ids_by_slug(session: Session) -> dict[str, int]:
    """Every council's id by slug: small (a few hundred rows) and cacheable, since slugs
    never change."""
    return {slug: council_id for slug, council_id in session.execute(_SLUGS_AND_IDS)}


_SLUGS_AND_IDS = sa.select(Council.slug, Council.id)


def search(session: Session, query: str = "", status: CouncilStatus | None = None) -> list[Council]:
    """Councils whose name matches every word of `query`, alphabetically."""
    stmt = sa.select(Council).order_by(Council.name)
    for word in query.split()[:8]:
        pattern = f"%{_escape_like(word.lower())}%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(Council.name).like(pattern, escape="\\"),
                sa.func.lower(Council.slug).like(pattern, escape="\\"),
            )
        )
    if status is not None:
        stmt = stmt.where(Council.status == status)
    return list(session.scalars(stmt))


def names_by_gss(session: Session) -> list[tuple[str, str, str]]:
    """(GSS code, name, short name) of every council, for the place index."""
    rows = session.execute(sa.select(Council.gss_code, Council.name, Council.short_name))
    return [(gss, name, short) for gss, name, short in rows if gss]


def by_gss(session: Session, codes: Sequence[str]) -> list[Council]:
    """Councils with these GSS codes, in the order of `codes`."""
    if not codes:
        return []
    found = {
        c.gss_code: c
        for c in session.scalars(sa.select(Council).where(Council.gss_code.in_(list(codes))))
    }
    return [found[code] for code in codes if code in found]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def counts_by_status(session: Session) -> dict[CouncilStatus, int]:
    return count_by(session, Council.status, CouncilStatus)
