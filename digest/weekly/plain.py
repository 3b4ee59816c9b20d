"""A meeting in plain words (SPEC §12.1): one short paragraph built only from the
meeting's own data, e.g. "The Cabinet met on Tuesday 18 November. It approved the revised
SEND transport policy, noted a forecast overspend of £4.2m and took 2 items in private."

The leading verb of each decision (approved, noted, agreed, deferred, refused, ...) and
what it was about are read from the decision bullets; when a decision names only "the
report" or "the application", the agenda item's title says what it was about. Nothing is
invented: a decision whose verb cannot be read is counted, not described.

Everything here is a pure function of its arguments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from digest.clock import local_today

# Most decisions worth a clause; the rest are counted.
MAX_CLAUSES = 3
MAX_OBJECT_CHARS = 90

# verb stem -> past tense used in the summary
_VERBS = {
    "approv": "approved",
    "not": "noted",
    "agree": "agreed",
    "defer": "deferred",
    "refus": "refused",
    "endors": "endorsed",
    "adopt": "adopted",
    "grant": "granted",
    "recommend": "recommended",
    "delegat": "delegated",
    "appoint": "appointed",
    "elect": "elected",
    "reject": "rejected",
    "accept": "accepted",
    "confirm": "confirmed",
    "authoris": "authorised",
    "authoriz": "authorised",
    "award": "awarded",
    "allocat": "allocated",
    "set": "set",
    "receiv": "received",
}
_VERB = (
    r"(?P<verb>approv|not|agree|defer|refus|endors|adopt|grant|recommend|delegat|appoint|"
    r"elect|reject|accept|confirm|authoris|authoriz|award|allocat|set|receiv)"
    r"(?:e|es|ed|ing|s|red|ring)?"
)
_BODIES = (
    r"(?:the\s+)?(?:[\w'’&-]+\s+){0,4}?(?:committee|cabinet|council|panel|board|"
    r"sub-committee|executive|members|leader|mayor)"
)
# "To approve X", "Approved X", "The Cabinet approves X", "Agreed to X".
_ACTIVE = re.compile(
    rf"^(?:to\s+|{_BODIES}\s+)?{_VERB}\b\s*(?:to\s+|that\s+)?(?P<object>.*)$", re.IGNORECASE
)
# "X be approved", "X were noted", "X is deferred".
_PASSIVE = re.compile(
    rf"^(?P<object>.+?)\s+(?:be|is|are|was|were)\s+(?:duly\s+|formally\s+)?{_VERB}\b",
    re.IGNORECASE,
)
# Objects that say nothing without the item's title.
_GENERIC = re.compile(
    r"^(?:the\s+)?(?:(?:submitted|officer'?s?|above|attached|planning)\s+)*"
    r"(?:report|application|recommendations?|proposals?|update|item|contents?(?:\s+of\s+the"
    r"\s+(?:submitted\s+)?report)?|information|decision)s?\b",
    re.IGNORECASE,
)
# Business that is the meeting running itself, not a decision about the area.
_PROCEDURAL = re.compile(
    r"\bminutes?\b.*\b(?:correct|true|accurate)\b|\bexclude|\bexcluded|\bpress and public\b"
    r"|\bvice-?chair|\bchair(?:man|person)?\b.*\b(?:appointed|elected)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Decided:
    """One public agenda item: its title and its decisions."""

    title: str
    decisions: Sequence[str]


def plain_summary(
    *,
    committee: str,
    start_at: datetime,
    tz: ZoneInfo,
    now: datetime,
    cancelled: bool,
    minutes_published: bool,
    items: Sequence[Decided],
    private_count: int,
    agenda_items: int,
    asks: Sequence[Decided] = (),
) -> str | None:
    """The paragraph, or None when there is nothing to say beyond the date."""
    who = _who(committee)
    local = start_at.astimezone(tz)
    when = local.strftime("%A %-d %B")
    if local.year != now.astimezone(tz).year:
        when += local.strftime(" %Y")
    held = local.date() < local_today(now, tz)
    if cancelled:
        return f"{who} meeting on {when} was cancelled."
    if not held:
        if not agenda_items:
            return None
        items_text = _count(agenda_items, "item")
        private = f", {private_count} of them in private" if private_count else ""
        asked = _asked(asks)
        return f"{who} meets on {when}. Its agenda has {items_text}{private}{asked}."
    if not minutes_published:
        return None  # pages and digests already say the minutes are still to come
    clauses = _clauses(items)
    if private_count:
        clauses.append(f"took {_count(private_count, 'item')} in private")
    if not clauses:
        return f"{who} met on {when}. The minutes record no decisions."
    return f"{who} met on {when}. It {_join(clauses)}."


def _clauses(items: Sequence[Decided]) -> list[str]:
    described: list[str] = []
    others = 0
    for item in items:
        substantive = [d for d in item.decisions if not _PROCEDURAL.search(d)]
        if not substantive:
            continue
        clause = _clause(substantive[0], item.title)
        if clause and len(described) < MAX_CLAUSES:
            described.append(clause)
        else:
            others += 1
    if others:
        described.append(f"made {_count(others, 'other decision')}")
    return described


def _asked(asks: Sequence[Decided]) -> str:
    """'; it is asked to approve X and 2 other matters' for an upcoming meeting."""
    clauses = [
        clause
        for item in asks
        if item.decisions
        and not _ROUTINE_ASK.search(f"{item.title} {item.decisions[0]}")
        and (clause := _clause(item.decisions[0], item.title))
    ]
    if not clauses:
        return ""
    verb, _, thing = clauses[0].partition(" ")
    others = len(clauses) - 1
    more = f" and {_count(others, 'other matter')}" if others else ""
    return f"; it is asked to {_BASE.get(verb, verb)} {thing}{more}"


# The meeting's own housekeeping, not what it is asked to decide about the area.
_ROUTINE_ASK = re.compile(
    r"\bminutes\b|apolog|declarations?\s+of\s+interest|urgent\s+business|exclu",
    re.IGNORECASE,
)

_BASE = {
    "approved": "approve",
    "noted": "note",
    "agreed": "agree",
    "deferred": "defer",
    "refused": "refuse",
    "endorsed": "endorse",
    "adopted": "adopt",
    "granted": "grant",
    "recommended": "recommend",
    "delegated": "delegate",
    "appointed": "appoint",
    "elected": "elect",
    "rejected": "reject",
    "accepted": "accept",
    "confirmed": "confirm",
    "authorised": "authorise",
    "awarded": "award",
    "allocated": "allocate",
    "received": "receive",
}


def _clause(decision: str, title: str) -> str | None:
    text = decision.strip().rstrip(".;:")
    passive = _PASSIVE.match(text)
    active = None if passive else _ACTIVE.match(text)
    match = passive or active
    if match is None:
        return None
    verb = _VERBS[match.group("verb").lower()]
    thing = match.group("object").strip(" ,.;:")
    thing = re.sub(r"^(?:for|having regard to) the reasons[^,]*,\s*", "", thing, flags=re.I)
    if not thing or (_GENERIC.match(thing) and len(thing.split()) <= 6):
        application = "application" in thing.lower() and "application" not in title.lower()
        thing = f"the application {title.strip()}" if application else title.strip()
    if not thing:
        return None
    return f"{verb} {_object(thing)}"


def _object(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    # Keep "the" lower case mid-sentence; keep acronyms and names as they are.
    if re.match(r"^The\s", text):
        text = "t" + text[1:]
    if len(text) > MAX_OBJECT_CHARS:
        cut = text[:MAX_OBJECT_CHARS].rsplit(" ", 1)[0].rstrip(",;:(")
        text = f"{cut}…"
    return text


def _who(committee: str) -> str:
    name = committee.strip() or "The meeting"
    return name if name.lower().startswith("the ") else f"The {name}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
