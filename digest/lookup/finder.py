"""What the council search box does with a query: a postcode, a name or a town."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from digest import councils
from digest.lookup.postcodes import LookupUnavailable, looks_like_postcode, normalise
from digest.models import Council, CouncilStatus

if TYPE_CHECKING:
    from digest.runtime import Runtime


@dataclass
class Found:
    councils: list[Council] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)  # council id → "Leigh", …
    postcode: str = ""  # the postcode looked up, normalised
    ward: str = ""
    error: str | None = None  # a plain message for the person searching
    invalid: bool = False  # the query was a malformed postcode (answered 400)


def find(
    session: Session, rt: Runtime, query: str, status: CouncilStatus | None, now: datetime
) -> Found:
    if not query:
        return Found(councils=councils.search(session, "", status))
    postcode = normalise(query)
    if postcode is not None:
        return _by_postcode(session, rt, postcode, status, now)
    found = Found(councils=councils.search(session, query, status))
    seen = {c.id for c in found.councils}
    # Typo tolerance only when the name itself found nothing (the fuzzy pass costs ms).
    matches = rt.places.find(query, limit=10, fuzzy=not found.councils)
    by_gss = {c.gss_code: c for c in councils.by_gss(session, [m.gss_code for m in matches])}
    for match in matches:
        council = by_gss.get(match.gss_code)
        if council is None or council.id in seen or (status and council.status != status):
            continue
        seen.add(council.id)
        found.councils.append(council)
        if match.why:
            found.reasons[council.id] = match.why
    if not found.councils and looks_like_postcode(query):
        found.error = (
            f"“{query}” looks like part of a postcode. Type the whole postcode, "
            "such as WN1 1YN, or the name of your council or town."
        )
        found.invalid = True
    return found


def _by_postcode(
    session: Session, rt: Runtime, postcode: str, status: CouncilStatus | None, now: datetime
) -> Found:
    try:
        answer = rt.postcodes.lookup(postcode, now)
    except LookupUnavailable as exc:
        return Found(postcode=postcode, error=f"We could not look up {postcode}: {exc}.")
    if not answer.found:
        return Found(
            postcode=postcode,
            error=f"{postcode} is not a postcode we can find. Check it, or search by the "
            "name of your council or town.",
        )
    found = councils.by_gss(session, list(answer.gss_codes))
    if status is not None:
        found = [c for c in found if c.status == status]
    if not found:
        return Found(
            postcode=postcode,
            error=f"We found {postcode}, but none of the councils we list covers it.",
        )
    return Found(councils=found, postcode=postcode, ward=answer.ward)
