"""What a source says about meetings, whatever the council's system: the shapes every
source module (moderngov.py, cmis.py) parses its answers into and the store reads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date


@dataclass(frozen=True)
class ListedMeeting:
    """One meeting as a source's listing gives it (GetMeetings, a CMIS month page)."""

    source_id: str
    committee_id: str
    committee_title: str
    date: date
    time_text: str
    status_text: str
    is_webcast: bool
    # The council's own page for the meeting when the listing links it (CMIS); ModernGov
    # lists none, its page address is built from the ids.
    page_url: str = ""

    @property
    def is_cancelled(self) -> bool:
        return is_cancelled(self.status_text)

    def signature(self) -> str:
        """Changes whenever anything GetMeetings says about the meeting changes."""
        data = asdict(self)
        data["date"] = self.date.isoformat()
        # Left out when empty, so ModernGov signatures stay what they always were.
        if not data["page_url"]:
            del data["page_url"]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ListedCommittee:
    source_id: str
    title: str


@dataclass(frozen=True)
class MeetingList:
    meetings: tuple[ListedMeeting, ...]
    committees: tuple[ListedCommittee, ...]


@dataclass(frozen=True)
class ParsedDocument:
    source_id: str
    title: str
    url: str
    published_on: date | None
    is_restricted: bool
    item_source_id: str | None


@dataclass(frozen=True)
class ParsedItem:
    source_id: str
    number: str
    title: str
    agenda_text: str
    minutes_text: str
    is_restricted: bool
    is_decision: bool


@dataclass(frozen=True)
class ParsedAttendee:
    member_source_id: str
    name: str
    role: str
    party: str
    attendance: str


@dataclass(frozen=True)
class MeetingDetail:
    """One meeting as GetMeeting describes it."""

    source_id: str
    date: date | None
    time_text: str
    status_text: str
    venue: str
    end_time_text: str
    is_webcast: bool
    agenda_published: bool
    minutes_published: bool
    items: tuple[ParsedItem, ...]
    documents: tuple[ParsedDocument, ...]
    attendees: tuple[ParsedAttendee, ...]

    def signature(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()


def is_cancelled(status_text: str) -> bool:
    """'Cancelled' and 'Cancelled; …'. Compound labels such as 'Confirmed; Budget Council'
    carry the status before the semicolon and a label after it."""
    return status_part(status_text).lower().startswith("cancel")


def status_part(status_text: str) -> str:
    return status_text.split(";", 1)[0].strip()


def status_label(status_text: str) -> str:
    """The label after the status ('Budget Council' in 'Confirmed; Budget Council')."""
    parts = status_text.split(";", 1)
    return parts[1].strip() if len(parts) == 2 else ""
