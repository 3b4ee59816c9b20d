"""Building weekly digests: what goes in each section, rendering once, queueing once per
active subscriber, quiet weeks, stale notices, size and golden files.

Golden files live in tests/golden/. After a deliberate change to the digest's look or
wording, regenerate them with `DIGEST_TEST_UPDATE_GOLDEN=1 make test` and review the diff.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import lxml.html
import pytest
import sqlalchemy as sa

from digest import councils, subscriptions, suppressions
from digest.config import Config
from digest.mail.compose import MANAGE_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from digest.models import (
    ChangeKind,
    CouncilStatus,
    Digest,
    DigestMeeting,
    DigestSection,
    OutboxMessage,
    SuppressionReason,
)
from digest.runtime import Runtime
from digest.weekly.build import (
    BuildSettings,
    CouncilBuild,
    UnknownCouncil,
    build_council_digest,
    councils_to_build,
)
from digest.weekly.weeks import IsoWeek
from tests.conftest import make_config
from tests.integration.helpers import ORIGIN, active_subscription
from tests.support.clock import Clock
from tests.support.meetings import BUILD_AT, WEEK, Item, add_meeting, arrange_busy_week, enable

GOLDEN = Path(__file__).parent.parent / "golden"


def build(rt: Runtime, slug: str = "manchester", week: str = WEEK) -> CouncilBuild:
    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, slug)
        assert council is not None
        return build_council_digest(
            session,
            council,
            IsoWeek.parse(week),
            rt.now(),
            BuildSettings.from_config(rt.config),
            rt.links,
        )


def stored(rt: Runtime, slug: str = "manchester", week: str = WEEK) -> Digest:
    with rt.read_sessions() as session:
        council = councils.get_by_slug(session, slug)
        assert council is not None
        return session.scalars(
            sa.select(Digest).where(Digest.council_id == council.id, Digest.week == week)
        ).one()


def sections(rt: Runtime, digest: Digest) -> dict[DigestSection, set[int]]:
    found: dict[DigestSection, set[int]] = {s: set() for s in DigestSection}
    with rt.read_sessions() as session:
        rows = session.scalars(
            sa.select(DigestMeeting).where(DigestMeeting.digest_id == digest.id)
        ).all()
    for row in rows:
        found[row.section].add(row.meeting_id)
    return found


@pytest.fixture
def busy(rt: Runtime, clock: Clock) -> dict[str, int]:
    """Manchester enabled with a busy week; the clock at the Monday-morning build."""
    with rt.sessions.begin() as session:
        council = enable(session, "manchester", clock.now - timedelta(days=30))
        council.last_success_at = BUILD_AT - timedelta(hours=3)
        ids = {name: m.id for name, m in arrange_busy_week(session, council).items()}
    clock.set(BUILD_AT)
    return ids


def test_sections_follow_the_spec(rt: Runtime, busy: dict[str, int]) -> None:
    result = build(rt)
    assert result.created and not result.quiet
    digest = stored(rt)
    assert sections(rt, digest) == {
        # Meetings dated last week (16-22 Nov), with their outcomes or their agenda.
        DigestSection.REPORTED: {busy["audit"], busy["executive"], busy["scrutiny"]},
        # Cancelled last week, and a later meeting whose cancellation was seen last week.
        DigestSection.CANCELLED: {busy["licensing"], busy["moved_off"]},
        # Minutes that appeared last week for an older meeting; not ones seen before.
        DigestSection.MINUTES: {busy["planning"]},
        # This week's meetings (23-29 Nov).
        DigestSection.UPCOMING: {busy["council"]},
    }
    assert digest.counts == {
        "reported": 3,
        "decisions": 4,
        "cancelled": 2,
        "minutes": 1,
        "upcoming": 1,
        "detail_level": 0,
    }


def test_content_of_the_email(rt: Runtime, busy: dict[str, int]) -> None:
    build(rt)
    digest = stored(rt)
    assert digest.subject == (
        "Manchester: 4 decisions from 3 meetings last week, 1 meeting this week, 2 cancelled"
    )
    text = digest.body_text
    assert "Last week: 3 meetings, 4 decisions · 2 cancelled · new minutes for 1 earlier " in text
    # Outcomes as bullets under their item; routine business folded; private items counted.
    assert "     - To note the forecast overspend of £4.2m." in text
    assert "     - To recommend to Council a council tax increase of 4.99%." in text
    assert "  4. SEND [4] Home to School Transport" in text
    assert "     The committee resolved to:\n     - To approve the revised SEND" in text
    # The meeting in plain words, under its date (SPEC §12.1).
    assert (
        "  The Executive met on Wednesday 18 November. It noted the forecast overspend of "
        "£4.2m, approved the revised SEND transport policy and took 2 items in private."
    ) in text
    assert "     - To approve the revised SEND transport policy." in text
    assert "Routine business: apologies and declarations of interest." in text
    assert "2 items considered in private." in text
    assert "Disposal of Land" not in text
    # The real Manchester minutes: the minutes item is routine, the other has no decision.
    assert "Routine business: minutes of the last meeting." in text
    assert "From the minutes: The Committee considered a report of the Governance" in text
    # No minutes yet: say so and show the agenda.
    scrutiny = text.split("Children and Young People Scrutiny Committee", 1)[1]
    assert "Minutes not published yet. The agenda was:" in scrutiny.split("Full summary")[0]
    # Cancellations, older minutes, this week's agenda with its papers, pack first.
    assert "Licensing Sub-Committee (CANCELLED)" in text
    assert "Economy and Regeneration Scrutiny Committee (CANCELLED)" in text
    assert "The application be approved subject to a Section 106 [" in text
    assert "2. Notice of Motion [7]: Free School Meals" in text
    assert (
        "Reports pack: Public reports pack <https://democracy.manchester.gov.uk/documents/g5006"
        in text
    )
    executive = text.split("* Executive")[1].split("* ")[0]
    papers = re.findall(r"(?:Reports pack: |Additional documents:\n    - )(.+?) <", executive)
    assert papers == ["Public reports pack 18th-Nov-2026 18.30 Executive", "Agenda frontsheet"]
    # Glossary: numbered at first use and explained once at the end.
    notes = text.split("TERMS USED", 1)[1]
    assert re.search(r"\[\d+\] SEND: Special educational needs", notes)
    assert text.count("SEND: Special educational needs") == 1
    # Footer: why, links (placeholders filled per recipient at send time), source, freshness.
    assert "because you subscribed to the weekly digest for Manchester City Council" in text
    assert f"Unsubscribe from Manchester: {UNSUBSCRIBE_PLACEHOLDER}" in text
    assert f"Manage your subscriptions: {MANAGE_PLACEHOLDER}" in text
    assert "Last collected: Monday 23 November 2026, 4am." in text
    assert "may be incomplete" not in text
    # Meeting pages and the council's own page for each meeting.
    assert f"{rt.config.site.base_url}/councils/manchester/meetings/{busy['audit']}" in text
    assert "ieListDocuments.aspx" in text


def test_html_is_self_contained_and_small(rt: Runtime, busy: dict[str, int]) -> None:
    build(rt)
    html = stored(rt).body_html
    assert len(html.encode()) < 100_000
    tree = lxml.html.document_fromstring(html)
    for forbidden in ("script", "iframe", "form", "object", "img", "link", "style"):
        assert tree.xpath(f"//{forbidden}") == [], forbidden
    hrefs = [a.get("href") for a in tree.xpath("//a")]
    assert hrefs and all(h.startswith(("https://", "mailto:")) for h in hrefs)
    assert UNSUBSCRIBE_PLACEHOLDER in hrefs and MANAGE_PLACEHOLDER in hrefs
    # CSS inlined onto the elements; council text escaped, never markup.
    assert 'style="' in html
    assert "To note the forecast overspend of £4.2m." in tree.text_content()


def test_council_text_cannot_inject_markup(rt: Runtime, clock: Clock) -> None:
    with rt.sessions.begin() as s:
        council = enable(s, "manchester", clock.now)
        add_meeting(
            s,
            council,
            on=date(2026, 11, 18),
            committee='Executive <img src="https://evil.example/x.png">',
            items=[Item("<script>alert(1)</script>", minutes="RESOLVED that <b>all</b> be well.")],
        )
    clock.set(BUILD_AT)
    build(rt)
    digest = stored(rt)
    for html in (digest.body_html, digest.web_html):
        tree = lxml.html.fragment_fromstring(html, create_parent="div")
        assert tree.xpath("//img") == [] and tree.xpath("//script") == []
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "All be well." not in digest.body_text  # tags are text, kept as the council wrote
    assert "<b>all</b> be well." in digest.body_text


def test_building_twice_enqueues_nothing_new(
    rt: Runtime, clock: Clock, busy: dict[str, int]
) -> None:
    clock.set(BUILD_AT - timedelta(days=5))
    first = active_subscription(rt, "first@example.net", "manchester")
    second = active_subscription(rt, "second@example.net", "manchester")
    active_subscription(rt, "leeds.only@example.net", "leeds")
    gone = active_subscription(rt, "gone@example.net", "manchester")
    bounced = active_subscription(rt, "bounced@example.net", "manchester")
    with rt.sessions.begin() as s:
        subscriptions.unsubscribe(
            s,
            subscription_id=gone,
            now=rt.now(),
            origin=ORIGIN,
            secret_key=rt.config.site.secret_key,
        )
        suppressions.suppress(
            s,
            rt.config.site.secret_key,
            "bounced@example.net",
            SuppressionReason.HARD_BOUNCE,
            rt.now(),
        )
        council = councils.get_by_slug(s, "manchester")
        assert council is not None
        subscriptions.subscribe(
            s, rt.mail, council=council, email="pending@example.net", now=rt.now(), origin=ORIGIN
        )
    clock.set(BUILD_AT)

    assert build(rt).queued == 2
    again = build(rt)
    assert (again.created, again.queued) == (False, 0)
    with rt.read_sessions() as s:
        digests = s.scalars(sa.select(Digest)).all()
        rows = s.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.purpose == "weekly_digest")
        ).all()
    assert len(digests) == 1
    assert {(r.recipient, r.subscription_id) for r in rows} == {
        ("first@example.net", first),
        ("second@example.net", second),
    }
    assert {r.reference for r in rows} == {f"digest:{digests[0].id}"}
    assert all(r.body_html is None and r.digest_id == digests[0].id for r in rows)
    assert bounced not in {r.subscription_id for r in rows}

    # Someone who confirms during the week gets the next digest, not this one.
    clock.advance(days=1)
    late = active_subscription(rt, "late@example.net", "manchester")
    assert build(rt).queued == 0
    clock.set(BUILD_AT + timedelta(days=7))
    next_week = build(rt, week="2026-W49")
    assert next_week.queued == 3
    with rt.read_sessions() as s:
        queued_for_late = s.scalars(
            sa.select(OutboxMessage.reference).where(
                OutboxMessage.subscription_id == late, OutboxMessage.purpose == "weekly_digest"
            )
        ).all()
    assert queued_for_late == [f"digest:{next_week.digest_id}"]


def test_minutes_are_not_repeated(rt: Runtime, clock: Clock, busy: dict[str, int]) -> None:
    build(rt)
    with rt.sessions.begin() as s:
        council = councils.get_by_slug(s, "manchester")
        assert council is not None
        # Minutes for last week's scrutiny meeting arrive on Wednesday.
        late_minutes = add_meeting(
            s,
            council,
            on=date(2026, 11, 16),
            committee="Standards Committee",
            items=[Item("Code of Conduct", minutes="RESOLVED that the code be adopted.")],
            changes=[(ChangeKind.MINUTES_PUBLISHED, datetime(2026, 11, 25, 9, tzinfo=UTC))],
        )
    clock.set(BUILD_AT + timedelta(days=7))
    build(rt, week="2026-W49")
    digest = stored(rt, week="2026-W49")
    found = sections(rt, digest)
    assert found[DigestSection.MINUTES] == {late_minutes.id}
    assert busy["planning"] not in found[DigestSection.MINUTES]
    # Cancellations are told once too.
    assert busy["moved_off"] not in found[DigestSection.CANCELLED]


def test_quiet_week_skip(rt: Runtime, clock: Clock) -> None:
    with rt.sessions.begin() as s:
        enable(s, "manchester", clock.now)
    active_subscription(rt, "reader@example.net", "manchester")
    clock.set(BUILD_AT)
    result = build(rt)
    assert result.quiet and result.queued == 0
    assert stored(rt).is_quiet
    with rt.read_sessions() as s:
        queued = s.scalars(sa.select(OutboxMessage.purpose)).all()
    assert "weekly_digest" not in queued and "welcome" in queued


def test_quiet_week_send(tmp_path: Path, rt: Runtime, clock: Clock) -> None:
    config: Config = make_config(tmp_path, rt.engine, digest={"quiet_weeks": "send"})
    quiet_rt = Runtime.from_config(config, engine=rt.engine)
    quiet_rt.clock = clock
    with quiet_rt.sessions.begin() as s:
        enable(s, "manchester", clock.now)
    active_subscription(quiet_rt, "reader@example.net", "manchester")
    clock.set(BUILD_AT)
    result = build(quiet_rt)
    assert result.quiet and result.queued == 1
    digest = stored(quiet_rt)
    assert digest.subject == "Manchester: a quiet council week (23 – 29 November 2026)"
    assert "A quiet week: Manchester held no committee meetings last week" in digest.body_text
    assert UNSUBSCRIBE_PLACEHOLDER in digest.body_text


def test_stale_collection_is_announced(rt: Runtime, clock: Clock) -> None:
    with rt.sessions.begin() as s:
        council = enable(s, "manchester", clock.now, collected=BUILD_AT - timedelta(days=3))
        add_meeting(s, council, on=date(2026, 11, 24), committee="Executive")
    clock.set(BUILD_AT)
    build(rt)
    digest = stored(rt)
    notice = "This digest may be incomplete. We have not been able to collect new information"
    assert notice in digest.body_text
    assert "since Friday 20 November 2026, 7am" in digest.body_text
    assert notice in lxml.html.document_fromstring(digest.body_html).text_content()


def test_a_busy_week_still_fits_in_100_kb(rt: Runtime, clock: Clock) -> None:
    long_minutes = "\n\n".join(
        ["The Committee considered a detailed report. " * 12]
        + ["RESOLVED:"]
        + [
            f"({n}) That the {n}th recommendation in the report be agreed in full. " * 3
            for n in range(1, 8)
        ]
    )
    with rt.sessions.begin() as s:
        council = enable(s, "manchester", clock.now)
        for n in range(30):
            add_meeting(
                s,
                council,
                on=date(2026, 11, 16) + timedelta(days=n % 14),
                at=time(9 + n % 9),
                committee=f"Committee number {n}",
                items=[
                    Item(
                        f"Item {i} about the capital programme and Section 106 money",
                        agenda="A long agenda description of the report. " * 15,
                        minutes=long_minutes if n < 15 else "",
                        documents=[(f"Report {n}-{i}", f"https://x.gov.uk/{n}/{i}.pdf")],
                    )
                    for i in range(15)
                ],
            )
    clock.set(BUILD_AT)
    build(rt)
    digest = stored(rt)
    html = digest.body_html
    assert len(html.encode()) < 100_000
    assert digest.counts["detail_level"] > 0  # it had to shed detail, and did
    assert UNSUBSCRIBE_PLACEHOLDER in html and MANAGE_PLACEHOLDER in html
    # Every meeting is still named and linked.
    for meeting_id in sections(rt, digest)[DigestSection.REPORTED]:
        assert f"/councils/manchester/meetings/{meeting_id}" in html
    assert len(sections(rt, digest)[DigestSection.REPORTED]) == sum(n % 14 < 7 for n in range(30))


@pytest.mark.parametrize("part", ["body_text", "body_html", "web_html"])
def test_golden_files(rt: Runtime, busy: dict[str, int], part: str) -> None:
    build(rt)
    actual = getattr(stored(rt), part)
    path = GOLDEN / f"weekly_digest.{part}.{'txt' if part == 'body_text' else 'html'}"
    if os.environ.get("DIGEST_TEST_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual)
    assert path.exists(), f"{path} is missing: run with DIGEST_TEST_UPDATE_GOLDEN=1"
    assert actual == path.read_text(), (
        f"{path.name} changed; if deliberate, regenerate with DIGEST_TEST_UPDATE_GOLDEN=1"
    )


def test_only_enabled_councils_get_a_digest(rt: Runtime) -> None:
    with rt.sessions.begin() as s:
        enable(s, "manchester", rt.now())
        paused = enable(s, "leeds", rt.now())
        paused.status = CouncilStatus.PAUSED
    with rt.read_sessions() as session:
        assert [c.slug for c in councils_to_build(session)] == ["manchester"]
        chosen = councils_to_build(session, ["leeds", "wigan", "manchester"])
        assert [c.slug for c in chosen] == ["manchester"]
        with pytest.raises(UnknownCouncil):
            councils_to_build(session, ["atlantis"])
