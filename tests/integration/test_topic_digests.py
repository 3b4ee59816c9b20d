"""Digests are composed from items and blocks rendered once per council-week
(digest.topic_digests); what they say must be exactly what rendering each digest from
scratch says, footnote numbers included: the whole council's and each topic selection's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from digest import councils
from digest.models import AgendaItem, Council, Meeting
from digest.runtime import Runtime
from digest.topic_digests import DigestComposer
from digest.weekly.build import BuildSettings, topics_note
from digest.weekly.meeting import load_meetings
from digest.weekly.render import LEVELS, Sections, render_digest
from digest.weekly.selection import select_meetings
from digest.weekly.weeks import IsoWeek
from tests.support.clock import Clock
from tests.support.meetings import BUILD_AT, WEEK, arrange_busy_week, enable

SELECTIONS = [
    ("planning",),
    ("schools-send", "budget-finance"),
    ("budget-finance",),
    ("children-families", "schools-send", "planning"),
    ("waste-recycling",),  # nothing this week
]


def _sections(
    meetings: dict[int, Meeting], ids: list[list[int]], topics: tuple[str, ...]
) -> Sections:
    wanted = set(topics)

    def only(item: AgendaItem) -> bool:
        return not item.is_restricted and not wanted.isdisjoint(item.topics or ())

    kept = [[meetings[i] for i in part if any(map(only, meetings[i].items))] for part in ids]
    return Sections(kept[0], kept[1], kept[2], kept[3], only, topics_note(list(topics)))


def _arrange(rt: Runtime, clock: Clock) -> None:
    with rt.sessions.begin() as session:
        council = enable(session, "manchester", clock.now - timedelta(days=30))
        council.last_success_at = BUILD_AT - timedelta(hours=3)
        arrange_busy_week(session, council)


def _the_week(session: Session, rt: Runtime) -> tuple[Council, list[list[int]], dict[int, Meeting]]:
    """Manchester, the meeting ids of its digest's four sections, and those meetings."""
    council = councils.get_by_slug(session, "manchester")
    assert council is not None
    selection = select_meetings(session, council.id, IsoWeek.parse(WEEK), rt.config.tz)
    ids = [selection.reported, selection.cancelled, selection.minutes, selection.upcoming]
    meetings = {m.id: m for m in load_meetings(session, [i for part in ids for i in part])}
    return council, ids, meetings


def _whole(meetings: dict[int, Meeting], ids: list[list[int]]) -> Sections:
    every = [[meetings[i] for i in part] for part in ids]
    return Sections(every[0], every[1], every[2], every[3])


def _from_scratch(rt: Runtime, council: Council, sections: Sections, **options: Any) -> Any:
    """The digest rendered the straightforward way (`weekly.render_digest`)."""
    settings = BuildSettings.from_config(rt.config)
    return render_digest(
        council,
        IsoWeek.parse(WEEK),
        sections,
        now=rt.now(),
        site=settings.site,
        links=rt.links,
        **options,
    )


def _composer(rt: Runtime, council: Council) -> DigestComposer:
    settings = BuildSettings.from_config(rt.config)
    return DigestComposer(
        council, IsoWeek.parse(WEEK), now=rt.now(), site=settings.site, links=rt.links
    )


@pytest.mark.parametrize("level", range(len(LEVELS)))
def test_composed_filtered_digests_equal_rendering_each_from_scratch(
    rt: Runtime, clock: Clock, level: int
) -> None:
    _arrange(rt, clock)
    clock.set(BUILD_AT)
    with rt.sessions() as session:
        council, ids, meetings = _the_week(session, rt)
        renderer = _composer(rt, council)
        footnoted = 0
        # Twice over: the second time every block comes from the renderer's cache.
        for topics in SELECTIONS + SELECTIONS:
            sections = _sections(meetings, ids, topics)
            composed = renderer.compose(sections, level)
            fresh = _from_scratch(rt, council, sections, web=False, first_level=level)
            assert fresh.view.level == level
            assert composed.email.subject == fresh.email.subject
            assert composed.email.text == fresh.email.text
            assert composed.email.html == fresh.email.html
            assert composed.view.counts == fresh.view.counts
            footnoted += len(fresh.view.footnotes)
        # The comparison covered footnotes (the last level lists no items to footnote).
        assert footnoted > 0 or not LEVELS[level].items
        # The whole council's digest too, with the web archive's copy, after the
        # selections (their items are shared with it).
        everything = _whole(meetings, ids)
        fresh = _from_scratch(rt, council, everything, first_level=level)
        composed = renderer.compose(everything, fresh.view.level, web=True)
        assert composed.email == fresh.email
        assert composed.web_html == fresh.web_html
        if LEVELS[fresh.view.level].items:
            assert "Revenue Budget" in fresh.web_html and fresh.view.footnotes
        whole = _sections(meetings, ids, ("planning",))
        assert "Revenue Budget" not in renderer.render(whole).email.text


def test_council_text_holding_the_composers_private_characters_comes_out_as_rendered(
    rt: Runtime, clock: Clock
) -> None:
    """Items (and meeting blocks) are inlined together, split at a private-use character;
    council text holding that character (or looking like a placeholder) must come out
    unchanged."""
    _arrange(rt, clock)
    with rt.sessions.begin() as session:
        item = session.query(AgendaItem).order_by(AgendaItem.id).first()
        assert item is not None
        item.title = "Odd \ue007 title \ue0059\ue006 from the council"
        meeting = session.get_one(Meeting, item.meeting_id)
        meeting.venue = "Room \ue007 2"
    clock.set(BUILD_AT)
    with rt.sessions() as session:
        council, ids, meetings = _the_week(session, rt)
        everything = _whole(meetings, ids)
        fresh = _from_scratch(rt, council, everything)
        composed = _composer(rt, council).compose(everything, fresh.view.level, web=True)
        assert "Odd \ue007 title" in fresh.email.html and "Room \ue007 2" in fresh.email.html
        assert composed.email == fresh.email
        assert composed.web_html == fresh.web_html
