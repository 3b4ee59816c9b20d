"""The connection test: does this base URL answer GetMeetings with ModernGov XML?

`probe_site` is network only; `probe` also records the result on the council
(`last_probe_at`, `last_probe_ok`, `last_probe_message`). The CLI, the admin console and
the auto-enable job all call `probe`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from digest.collector import moderngov
from digest.collector.fetcher import Fetcher, FetchError
from digest.models import Council

PROBE_DAYS_BACK = 7
PROBE_DAYS_AHEAD = 28


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    message: str
    meetings: int = 0


def probe_site(fetcher: Fetcher, base_url: str, today: date) -> ProbeResult:
    if not base_url:
        return ProbeResult(False, "no democracy website address (base URL) is set")
    start, end = today - timedelta(days=PROBE_DAYS_BACK), today + timedelta(days=PROBE_DAYS_AHEAD)
    url = moderngov.meetings_url(base_url, start, end)
    try:
        listing = moderngov.parse_meetings(fetcher.get(url))
    except FetchError as exc:
        return ProbeResult(False, f"not usable: {exc}")
    count = sum(1 for m in listing.meetings if start <= m.date <= end)
    return ProbeResult(
        True,
        f"answers with ModernGov XML: {count} meetings between {start:%d/%m/%Y} and {end:%d/%m/%Y}",
        count,
    )


def probe(
    session: Session, council: Council, fetcher: Fetcher, now: datetime, tz: ZoneInfo
) -> ProbeResult:
    """Probe the council's base URL and record the outcome on the council; no commit.

    The session stays open during one request (at most the collector's timeout)."""
    result = probe_site(fetcher, council.base_url, now.astimezone(tz).date())
    record(council, result, now)
    return result


def record(council: Council, result: ProbeResult, now: datetime) -> None:
    """Keep a probe's outcome on the council (auto-enable needs a recent success)."""
    council.last_probe_at = now
    council.last_probe_ok = result.ok
    council.last_probe_message = result.message
