"""The plain-words paragraph for a meeting, built only from its own data."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from digest.weekly.plain import Decided, plain_summary

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
HELD = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


def summary(items: list[Decided], **kw: object) -> str | None:
    args: dict[str, object] = dict(
        committee="Cabinet",
        start_at=HELD,
        tz=LONDON,
        now=NOW,
        cancelled=False,
        minutes_published=True,
        items=items,
        private_count=0,
        agenda_items=len(items),
    )
    args.update(kw)
    return plain_summary(**args)  # type: ignore[arg-type]


def test_the_example_from_the_issue() -> None:
    items = [
        Decided(
            "Minutes",
            ["The minutes of the meeting held on 4 November be approved as a correct record."],
        ),
        Decided("SEND transport", ["The revised SEND transport policy be approved."]),
        Decided("Budget monitoring", ["To note a forecast overspend of £4.2m."]),
    ]
    assert summary(items, private_count=2) == (
        "The Cabinet met on Wednesday 18 November. It approved the revised SEND transport "
        "policy, noted a forecast overspend of £4.2m and took 2 items in private."
    )


def test_generic_objects_take_the_item_title_and_extra_decisions_are_counted() -> None:
    items = [
        Decided(
            "Land at Mill Lane", ["The application be REFUSED for the following reason: harm."]
        ),
        Decided("Quarter 2 performance", ["Noted the content of the submitted report."]),
        Decided("Parking review", ["The item be deferred to the next meeting."]),
        Decided("Fees and charges", ["To approve the fees and charges for 2027/28."]),
        Decided("Tree policy", ["To endorse the tree policy."]),
    ]
    assert summary(items, committee="Planning Committee") == (
        "The Planning Committee met on Wednesday 18 November. It refused the application "
        "Land at Mill Lane, noted Quarter 2 performance, deferred Parking review and made 2 "
        "other decisions."
    )


def test_other_states() -> None:
    assert (
        summary([], cancelled=True) == "The Cabinet meeting on Wednesday 18 November was cancelled."
    )
    assert summary([], minutes_published=False) is None
    upcoming = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert summary([], start_at=upcoming, agenda_items=0) is None
    assert summary([], start_at=upcoming, agenda_items=6, private_count=1) == (
        "The Cabinet meets on Tuesday 1 December. Its agenda has 6 items, 1 of them in private."
    )
    assert summary([Decided("Apologies", [])]) == (
        "The Cabinet met on Wednesday 18 November. The minutes record no decisions."
    )


def test_footnote_markers_link_to_the_definition() -> None:
    from digest.weekly.glossary import glossary

    notes = glossary().footnoter()
    annotated = notes.annotate("The revised SEND <policy>")
    assert annotated.notes == (1,)
    assert str(annotated.linked) == (
        'The revised SEND<sup class="fn"><a href="#term-1" aria-label="Term 1 explained">[1]'
        "</a></sup> &lt;policy&gt;"
    )
    assert str(annotated.html) == "The revised SEND<sup>[1]</sup> &lt;policy&gt;"


def test_an_upcoming_meeting_says_what_it_is_asked_to_decide() -> None:
    upcoming = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    asks = [
        Decided("Minutes", ["To approve the minutes of the meeting on 7 October."]),
        Decided("SEND transport", ["To approve the revised SEND transport policy."]),
        Decided("Budget", ["Note the forecast overspend of £4.2m."]),
    ]
    assert summary([], start_at=upcoming, agenda_items=4, asks=asks) == (
        "The Cabinet meets on Tuesday 1 December. Its agenda has 4 items; it is asked to "
        "approve the revised SEND transport policy and 1 other matter."
    )
