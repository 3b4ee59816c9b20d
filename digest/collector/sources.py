"""The source interface: what every council system's module (moderngov.py, cmis.py)
provides, and the plan it works from.

A source does two things, network only: list the meetings of the collection window, and
fetch one meeting's detail (items, documents, attendees, minutes text). Everything around
them is shared and lives elsewhere: politeness, the SSRF guard, conditional GET and size
caps in http_client.py; what to fetch in planner.py; the never-partial store and the recorded
errors in store.py and runner.py. A source raises `FetchError` for anything unusable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from digest.collector.committees import CommitteeRule
from digest.collector.http_client import Fetcher, Validator
from digest.collector.parsed import ListedMeeting, MeetingDetail, MeetingList
from digest.models import CouncilSystem, MeetingStatus

SYSTEM_NAMES = {
    CouncilSystem.MODERNGOV: "ModernGov",
    CouncilSystem.CMIS: "CMIS",
    CouncilSystem.JADU: "Jadu",
    CouncilSystem.OTHER: "other software",
    CouncilSystem.UNKNOWN: "software we have not identified",
}


def system_name(system: CouncilSystem) -> str:
    return SYSTEM_NAMES.get(system, system.value)


@dataclass(frozen=True)
class KnownMeeting:
    source_id: str
    list_signature: str
    status: MeetingStatus
    start_at: datetime
    start_date: date
    committee_title: str
    agenda_published: bool
    minutes_published: bool
    detail_fetched_at: datetime | None
    source_url: str = ""
    # Printed minutes or a decision notice already stored (from the meeting's page): the
    # page need not be read again for them.
    has_decisions_document: bool = False

    def waits_for_papers(self, now: datetime) -> bool:
        """An agenda still due before the meeting, or minutes still due after it."""
        if self.status == MeetingStatus.CANCELLED:
            return False
        if self.start_at > now:
            return not self.agenda_published
        return not self.minutes_published


@dataclass(frozen=True)
class CouncilPlan:
    """A snapshot of what we hold for a council, taken before any network traffic."""

    council_id: int
    slug: str
    base_url: str
    tz: ZoneInfo
    window: tuple[date, date]
    rule: CommitteeRule
    known: dict[str, KnownMeeting]
    validators: dict[str, Validator]
    digests: dict[str, str]  # url -> fingerprint of the last answer we used
    recheck_after: timedelta
    source: Source
    # Minutes published only as a PDF on the meeting's page (SPEC §12.1).
    pdf_text: bool = True
    reports_per_meeting: int = 0
    planned_at: datetime | None = None  # when this snapshot was taken


@dataclass(frozen=True)
class ValidatorSeen:
    url: str
    validator: Validator
    sha256: str


@dataclass(frozen=True)
class Listing:
    """A source's answer for the window.

    `meetings` holds what was read from pages that changed (None when nothing changed);
    `unchanged` the date ranges whose pages were unchanged (304, or the same fingerprint
    as last time), where the meetings we already hold stand as listed."""

    meetings: MeetingList | None
    unchanged: tuple[tuple[date, date], ...]
    urls: tuple[str, ...]  # every listing address asked this time (validators of others go)
    validators: tuple[ValidatorSeen, ...]
    requests: int


@dataclass(frozen=True)
class DetailAnswer:
    detail: MeetingDetail | None  # None: the page was not modified
    validator: ValidatorSeen | None
    requests: int = 1


class Source(Protocol):
    """One council system."""

    system: CouncilSystem
    # Whether upcoming meetings need their detail re-read every `recheck_hours` because
    # only the detail shows a cancellation.
    rechecks_upcoming: bool

    def list_meetings(self, plan: CouncilPlan, fetcher: Fetcher) -> Listing:
        """The meetings of `plan.window` (the source may list more; they are filtered)."""
        ...

    def fetch_meeting(
        self, plan: CouncilPlan, fetcher: Fetcher, source_id: str, page_url: str
    ) -> DetailAnswer:
        """One meeting's detail; `page_url` is its listed or stored page, if any."""
        ...

    def meeting_page(
        self,
        base_url: str,
        listed: ListedMeeting | None,
        committee_id: str,
        source_id: str,
        current: str,
    ) -> str:
        """The council's own page for a meeting (`current`: what we stored before)."""
        ...

    def is_listing_url(self, url: str) -> bool:
        """Whether a stored validator's address is one of this source's listing pages
        (those for dates that left the window are dropped)."""
        ...
