"""The connection test, and recognising a council's system.

`probe_site` is network only: it asks the address whether it is ModernGov (the web
service answers GetMeetings with its XML) or CMIS (the page carries the CMIS meetings
calendar module), trying the system we believe first. `probe` also records the result
on the council (`last_probe_at`, `last_probe_ok`, `last_probe_message`) and, when a
system was recognised, the system itself. The CLI, the admin console and the
auto-enable job all call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from digest.clock import local_today
from digest.collector import cmis, moderngov
from digest.collector.http_client import Fetcher, FetchError
from digest.models import Council, CouncilSystem

PROBE_DAYS_BACK = 7
PROBE_DAYS_AHEAD = 28


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    message: str
    meetings: int = 0
    system: CouncilSystem | None = None  # what the site was recognised as, if anything
    url: str = ""  # the address that answered


def _moderngov(fetcher: Fetcher, base_url: str, today: date) -> ProbeResult:
    start, end = today - timedelta(days=PROBE_DAYS_BACK), today + timedelta(days=PROBE_DAYS_AHEAD)
    url = moderngov.meetings_url(base_url, start, end)
    listing = moderngov.parse_meetings(fetcher.get(url))
    count = sum(1 for m in listing.meetings if start <= m.date <= end)
    return ProbeResult(
        True,
        f"answers with ModernGov XML: {count} meetings between {start:%d/%m/%Y} and {end:%d/%m/%Y}",
        count,
        CouncilSystem.MODERNGOV,
        base_url,
    )


def _cmis(fetcher: Fetcher, base_url: str, today: date) -> ProbeResult:
    page = fetcher.get(cmis.base_page_url(base_url), timeout=fetcher.config.cmis_timeout)
    module = cmis.module_id(page)
    return ProbeResult(
        True,
        f"a CMIS site: its meetings calendar is module {module}",
        0,
        CouncilSystem.CMIS,
        base_url,
    )


_TESTS = {CouncilSystem.MODERNGOV: _moderngov, CouncilSystem.CMIS: _cmis}


def probe_site(
    fetcher: Fetcher, base_url: str, today: date, system: CouncilSystem | None = None
) -> ProbeResult:
    """Which collectable system answers at `base_url`, trying `system` first."""
    if not base_url:
        return ProbeResult(False, "no democracy website address (base URL) is set")
    base_url = base_url.rstrip("/")
    order = sorted(_TESTS, key=lambda s: s != system)
    if system not in _TESTS:
        order = [CouncilSystem.MODERNGOV, CouncilSystem.CMIS]
    problems: list[str] = []
    for candidate in order:
        try:
            return _TESTS[candidate](fetcher, base_url, today)
        except FetchError as exc:
            problems.append(str(exc))
    # The first problem is the one about the system we expected (ModernGov by default).
    return ProbeResult(False, f"not usable: {problems[0]} (neither ModernGov nor CMIS answered)")


def probe(
    session: Session, council: Council, fetcher: Fetcher, now: datetime, tz: ZoneInfo
) -> ProbeResult:
    """Probe the council's base URL (else its website) and record the outcome on the
    council; no commit. The session stays open during the requests (at most a few
    timeouts)."""
    today = local_today(now, tz)
    result = probe_site(fetcher, council.base_url, today, council.system)
    if not result.ok and council.website and council.website.rstrip("/") != council.base_url:
        found = probe_site(fetcher, council.website, today, council.system)
        if found.ok:
            result = found
    record(council, result, now)
    return result


def record(council: Council, result: ProbeResult, now: datetime) -> None:
    """Keep a probe's outcome on the council (auto-enable needs a recent success), and
    the system it recognised (with the address, when the council had none)."""
    council.last_probe_at = now
    council.last_probe_ok = result.ok
    council.last_probe_message = result.message
    if result.ok and result.system is not None:
        council.system = result.system
        council.system_source = "probe"
        if not council.base_url and result.url:
            council.base_url = result.url
