"""What a meeting decided, read from the plain text of its minutes.

Councils record decisions in a handful of ways: "RESOLVED – that ...", "Resolved:" over a
numbered or lettered list, "It was moved ... and RESOLVED that ...", "The Committee
resolved to ...", a "Decision" heading (Manchester and others), "AGREED", or, with no
keyword at all, paragraphs that begin "To approve ..." / "To note ...". The text comes
from `digest.htmltext.html_to_text`, so paragraphs are separated by blank lines and list
markers and table-row numbers are kept; those markers are how we find where a list of
decisions starts and stops.

Everything here is a pure function of the text.
"""

from __future__ import annotations

import re

MAX_RESOLUTIONS = 25

# A list marker at the start of a paragraph: 1. 1) 1.1 (1) a. a) (a) i. (i) - • · o ▪ –
_MARKER = re.compile(
    r"^\s*(?:\d{1,2}\.\d{1,2}\.?|\(?(?:\d{1,2}|[a-z]|[ivx]{1,5})[.)]"
    r"|\((?:\d{1,2}|[a-z]|[ivx]{1,5})\)|[-•·▪◦●o–*])\s+",
    re.IGNORECASE,
)
# Markers inside one paragraph: "(1) that ...; (2) that ..." or "...: (a) ... (b) ...".
# Only after a clause ends, so "paragraphs (a) and (b) of" is left alone.
_INLINE_MARKER = re.compile(
    r"(?:^|[;:.]\s*(?:and\s+)?)\((?:\d{1,2}|[a-z]|[ivx]{1,5})\)\s+", re.IGNORECASE
)

_VOTE = (
    r"(?:\(?\s*(?:unanimously|nem\.?\s*con\.?|by\s+(?:a\s+)?(?:majority|\d+\s+votes?\s+to\s+\d+"
    r"(?:\s*(?:,|with|and)\s*\d+\s+abstentions?)?))\s*\)?)"
)
_BODIES = (
    r"(?:committee|cabinet|council|panel|board|sub-committee|executive|members|forum|"
    r"commission|authority|meeting)"
)
# Keyword triggers. RESOLVED in capitals may appear anywhere ("... seconded by Cllr Jones
# and RESOLVED that"); the others only where a decision sentence begins.
_TRIGGERS = [
    re.compile(rf"\b(?:it\s+was\s+)?(?:FURTHER\s+|ALSO\s+)?RESOLVED\b/?\s*(?P<vote>{_VOTE})?"),
    re.compile(
        rf"^(?:it\s+was\s+)?(?:further\s+|also\s+)?resolved\b\s*(?P<vote>{_VOTE})?",
        re.IGNORECASE,
    ),
    re.compile(
        rf"^(?:the\s+)?(?:[\w'’-]+\s+){{0,4}}?{_BODIES}\s+(?P<vote>{_VOTE}\s+)?"
        r"(?:therefore\s+|then\s+)?(?:resolved|agreed|decided)(?=\s+(?:to|that|not\s+to)\b)",
        re.IGNORECASE,
    ),
    re.compile(r"^(?:AGREED|RECOMMENDED|DECISIONS?)\b"),
    re.compile(
        r"^(?:decisions?|agreed|recommended|recommendations?)\s*(?:[:\-–—]|$)", re.IGNORECASE
    ),
]
_HEADING_ONLY = re.compile(r"^(?:decisions?|resolved|resolutions?|agreed)\s*[:.\-–—]?\s*$", re.I)
# Manchester and others write decisions as bare infinitives: "To note the report."
_INFINITIVE = re.compile(
    r"^to\s+(?:approve|note|agree|endorse|receive|recommend|adopt|defer|refuse|grant|accept|"
    r"request|delegate|confirm|support|reject|appoint|authori[sz]e|ask|thank|welcome|"
    r"instruct|establish|allocate|award|commission|consult|refer|re-?appoint|elect|"
    r"withdraw|amend|proceed|approve,?)\b",
    re.IGNORECASE,
)
_LEAD = re.compile(r"^[\s:;,.\-–—]+")
_THAT = re.compile(r"^(?:that|to\s+resolve\s+that)\s+", re.IGNORECASE)
# An introduction with nothing in it but who decided: "that the Committee:".
_BARE_INTRO = re.compile(
    r"^(?i:that)?\s*:?$|^(?i:that\s+)?(?i:the\s+)?(?:[A-Z][\w'’&-]*\s+){0,4}"
    r"(?i:committee|cabinet|council|panel|board|sub-committee|executive|members?|forum|"
    r"commission)\s*(?i:hereby\s*)?:?$"
)


def extract_resolutions(minutes: str | None) -> list[str]:
    """The decisions recorded in one agenda item's minutes, as short bullet points.

    [] when the minutes record no decision (a report was only discussed, say).
    """
    if not minutes or not minutes.strip():
        return []
    blocks = [b.strip() for b in re.split(r"\n\s*\n", minutes) if b.strip()]
    found: list[str] = []
    index = 0
    while index < len(blocks):
        consumed, bullets = _read_decision(blocks, index)
        if consumed:
            found.extend(bullets)
            index += consumed
        else:
            index += 1
    if not found:
        found = [b for b in blocks if _INFINITIVE.match(strip_marker(b))]
    return _dedupe([clean for b in found if (clean := tidy(b))])[:MAX_RESOLUTIONS]


def _read_decision(blocks: list[str], index: int) -> tuple[int, list[str]]:
    """If blocks[index] records a decision: how many blocks it spans and its bullets."""
    body = strip_marker(blocks[index])
    for trigger in _TRIGGERS:
        match = trigger.search(body)
        if match is None:
            continue
        vote = _vote_label(match.groupdict().get("vote") or "")
        rest = _LEAD.sub("", body[match.end() :])
        keyword = match.group(0).strip().lower()
        recommended = keyword.startswith("recommend")
        if recommended and rest:
            # "RECOMMENDED to Council that ..." loses its meaning without the keyword.
            rest = f"Recommended {rest}"
        bullets, consumed = _following_items(blocks, index + 1)
        if _HEADING_ONLY.match(body) or not rest:
            if bullets:
                lead = ["Recommended:"] if recommended else []
                return 1 + consumed, _with_vote(lead + bullets, vote)
            following = index + 1
            if following < len(blocks) and not _starts_decision(blocks[following]):
                # A "Decision" or "RESOLVED" heading over one plain paragraph.
                more, extra = _following_items(blocks, following + 1)
                return 2 + extra, _with_vote([blocks[following], *more], vote)
            return 0, []
        ending = rest.rstrip()
        if not ending.endswith((":", "—", "-", "–", ";", " and", " or")):
            # A complete sentence: numbered paragraphs after it are the next minutes.
            bullets, consumed = [], 0
        inline = _split_inline(rest)
        if len(inline) > 1:
            return 1 + consumed, _with_vote(inline + bullets, vote)
        if bullets and ending.endswith((":", "—", "-", "–")):
            intro = ending.rstrip(":—–- ").strip()
            lead = [] if _BARE_INTRO.match(intro + ":") else [intro + ":"]
            return 1 + consumed, _with_vote(lead + bullets, vote)
        return 1 + consumed, _with_vote([rest, *bullets], vote)
    return 0, []


def _starts_decision(block: str) -> bool:
    body = strip_marker(block)
    return any(trigger.search(body) for trigger in _TRIGGERS)


def _following_items(blocks: list[str], start: int) -> tuple[list[str], int]:
    """The run of list items (1. / (a) / - ...) that continues a decision."""
    index = start
    while (
        index < len(blocks) and _MARKER.match(blocks[index]) and not _starts_decision(blocks[index])
    ):
        index += 1
    return blocks[start:index], index - start


def _split_inline(text: str) -> list[str]:
    markers = list(_INLINE_MARKER.finditer(text))
    if len(markers) < 2:
        return [text]
    parts = []
    for i, marker in enumerate(markers):
        end = markers[i + 1].start() if i + 1 < len(markers) else len(text)
        parts.append(text[marker.end() : end])
    lead = text[: markers[0].start() + 1].strip()
    if lead and not _BARE_INTRO.match(lead.rstrip(":") + ":"):
        parts.insert(0, lead.rstrip(":;.") + ":")
    return parts


def _vote_label(raw: str) -> str:
    text = re.sub(r"\s+", " ", raw.strip(" ()")).lower()
    if not text:
        return ""
    if text.startswith("unanimously") or text.startswith("nem"):
        return "unanimous"
    return text


def _with_vote(bullets: list[str], vote: str) -> list[str]:
    if not vote or not bullets:
        return bullets
    first = bullets[0].rstrip().rstrip(".;,")
    return [f"{first} ({vote})", *bullets[1:]]


def strip_marker(block: str) -> str:
    """The block without its leading list marker (1. / (a) / - ...)."""
    return _MARKER.sub("", block, count=1)


def tidy(text: str) -> str:
    """One decision as a readable sentence: no list marker, no leading "that", no
    trailing "; and", a capital first letter and a full stop."""
    text = re.sub(r"\s+", " ", text).strip()
    text = strip_marker(text)
    text = _LEAD.sub("", text)
    text = _THAT.sub("", text)
    text = re.sub(r"(?:;|,)?\s*(?:and|or)\s*$", "", text, flags=re.IGNORECASE)
    text = text.rstrip(" ;,")
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    if text[-1] not in ".:!?\"'’”":
        text += "."
    return text


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = re.sub(r"\W+", " ", item).strip().lower()
        if key and key not in seen:
            seen.add(key)
            out.append(item)
    return out
