"""Which committees of a ModernGov install belong to a council.

Five pairs of councils share one install (Adur/Worthing, Babergh/Mid Suffolk,
Broadland/South Norfolk, Eastbourne/Lewes, South Hams/West Devon: `shared_install_with`
in the bundled list). Each council of a pair is collected on its own, under its own
council id, so the same source meeting id can exist once per council without clashing;
what differs is which committees each one keeps:

* `Council.committee_filter`, when an operator sets it, is a regular expression searched
  (case-insensitively) in committee titles: matching committees are the council's.
* Otherwise, on a shared install, a committee is the council's unless its title names the
  partner council and not this one ("Worthing Planning Committee" is not Adur's; "Adur &
  Worthing Joint Strategic Committee" and "Licensing Committee" are both councils').
* On an install of its own, every committee is the council's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.models import Council


class InvalidCommitteeFilter(ValueError):
    """The committee filter is not a usable regular expression."""


@dataclass(frozen=True)
class CommitteeRule:
    pattern: str = ""  # the operator's regular expression, if any
    own_names: tuple[str, ...] = ()
    partner_names: tuple[str, ...] = ()

    def keeps(self, committee_title: str) -> bool:
        title = committee_title.lower()
        if self.pattern:
            return re.search(self.pattern, committee_title, re.IGNORECASE) is not None
        if not self.partner_names:
            return True
        names_partner = any(_names(title, name) for name in self.partner_names)
        names_us = any(_names(title, name) for name in self.own_names)
        return names_us or not names_partner

    def describe(self) -> str:
        if self.pattern:
            return f"committees matching /{self.pattern}/"
        if self.partner_names:
            return f"committees not named only for {' / '.join(self.partner_names)}"
        return "all committees"


def _names(title: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name.lower())}\b", title) is not None


def check_filter(pattern: str) -> str:
    """The pattern, stripped, if it compiles; InvalidCommitteeFilter otherwise."""
    pattern = pattern.strip()
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidCommitteeFilter(
            f"committee filter {pattern!r} is not a valid regular expression: {exc}"
        ) from exc
    return pattern


def rule_for(session: Session, council: Council) -> CommitteeRule:
    if council.committee_filter.strip():
        return CommitteeRule(pattern=check_filter(council.committee_filter))
    if not council.shared_install_with:
        return CommitteeRule()
    partner = session.scalar(
        sa.select(Council).where(Council.local_authority_code == council.shared_install_with)
    )
    if partner is None:
        return CommitteeRule()
    return CommitteeRule(own_names=_short_names(council), partner_names=_short_names(partner))


def _short_names(council: Council) -> tuple[str, ...]:
    names = {council.short_name.strip()}
    return tuple(sorted(n for n in names if n))
