"""What a meeting decided, read from the plain text of its minutes.

Councils record decisions in a handful of ways: "RESOLVED – that ...", "Resolved:" over a
numbered or lettered list, "It was moved ... and RESOLVED that ...", "The Committee
resolved to ...", a "Decision" heading (Manchester and others), "AGREED", or, with no
keyword at all, paragraphs that begin "To approve ..." / "To note ...". Also: "RESOLVED
THAT" on a line of its own, "It was RESOLVED", "The Committee agreed:-" (Scotland),
"Decisions made:", a body over a list ("The ... Committee – 1. Noted ..."), votes
("carried, 8 for, 3 against"), and, only when an item has no keyword decision, passive
records ("were approved as a correct record"), a bare "That ..." paragraph, "Council
accepted, that ..." and a motion moved and then carried. A planning decision keeps its
conditions or reasons inside the one bullet; a lettered sub-list stays under its
numbered lead. The score on real minutes from 43 councils is in
tests/unit/test_minutes_corpus.py.

The text comes from `digest.htmltext.html_to_text` (or from a PDF, joined into
paragraphs the same way), so paragraphs are separated by blank lines and list markers and
table-row numbers are kept; those markers are how we find where a list of decisions
starts and stops.

Everything here is a pure function of the text.
"""

from __future__ import annotations

import re

from digest.weekly.bullets import LEAD, MARKER, THAT, dedupe, marker_kind, strip_marker, tidy

MAX_RESOLUTIONS = 25

# Markers inside one paragraph: "(1) that ...; (2) that ..." or "...: (a) ... (b) ...".
# Only after a clause ends, so "paragraphs (a) and (b) of" is left alone.
_INLINE_MARKER = re.compile(
    r"(?:^|[;:.]\s*(?:and\s+)?)\((?:\d{1,2}|[a-z]|[ivx]{1,5})\)\s+", re.IGNORECASE
)

_VOTE = (
    r"(?:\(?\s*(?:unanimously|nem\.?\s*con\.?|by\s+(?:a\s+)?(?:majority|\d+\s+votes?\s+to\s+\d+"
    r"(?:\s*(?:,|with|and)\s*\d+\s+abstentions?)?)"
    r"|(?:carried\s*[,:]?\s*)?\d+\s+(?:votes?\s+)?for\s*,?\s*\d+\s+against"
    r"(?:\s*(?:,|with|and)\s*\d+\s+abstentions?)?)\s*\)?)"
)
_BODIES = (
    r"(?:committee|cabinet|council|panel|board|sub-committee|executive|members|forum|"
    r"commission|authority|meeting)"
)
# Keyword triggers. RESOLVED in capitals may appear anywhere ("... seconded by Cllr Jones
# and RESOLVED that"); the others only where a decision sentence begins.
_TRIGGERS = [
    re.compile(
        rf"\b(?:it\s+was\s+)?(?P<vote>UNANIMOUSLY\s+)?(?:FURTHER\s+|ALSO\s+)?RESOLVED\b/?\s*"
        rf"(?P<vote2>{_VOTE})?"
    ),
    re.compile(
        rf"^(?:it\s+was\s+)?(?:further\s+|also\s+)?resolved\b\s*(?P<vote>{_VOTE})?",
        re.IGNORECASE,
    ),
    # "Following discussion it was resolved that ...", "It was agreed to ...".
    re.compile(
        rf"\bit\s+was\s+(?P<vote>{_VOTE}\s+)?(?:resolved|agreed)(?=\s+(?:that|to)\b)",
        re.IGNORECASE,
    ),
    # "The Committee resolved to ...", "The Committee resolved:-" over a list, Scottish
    # "The Committee AGREED:".
    re.compile(
        rf"^(?:the\s+)?(?:[\w'’,-]+\s+){{0,6}}?{_BODIES}\s+(?P<vote>{_VOTE}\s+)?"
        r"(?:therefore\s+|then\s+|also\s+|further\s+)?(?:resolved|agreed|decided)"
        r"(?=\s+(?:to|that|not\s+to)\b|\s*[:\-–—]|\s*$)",
        re.IGNORECASE,
    ),
    re.compile(r"^(?:AGREED|RECOMMENDED|DECISIONS?)\b"),
    re.compile(
        r"^(?:decisions?(?:\s+made)?|agreed|recommended|recommendations?)\s*(?:[:\-–—]|$)",
        re.IGNORECASE,
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
# Welsh councils space the word out: "RESOLVED - T H A T the minutes ...".
_SPACED_THAT = re.compile(r"\bT\s+H\s+A\s+T\b")
# An introduction with nothing in it but who decided: "that the Committee:".
_BARE_INTRO = re.compile(
    r"^(?i:that)?\s*:?$|^(?i:that\s+)?(?i:the\s+)?(?:[A-Z][\w'’&-]*\s+){0,4}"
    r"(?i:committee|cabinet|council|panel|board|sub-committee|executive|members?|forum|"
    r"commission)\s*(?i:hereby\s*)?:?$"
)
# Argyll and Bute and others: "The Environment, Development and Infrastructure Committee –"
# over a numbered list of what it "Noted" and "Agreed".
_BODY_OVER_LIST = re.compile(
    r"^(?:(?i:that)\s+)?(?:(?i:the)\s+)?(?:[A-Z][\w'’&-]*,?\s+(?:and\s+|&\s+)?){0,6}"
    rf"(?i:{_BODIES})\s*(?::-|[:\-–—])\s*$"
)
# Planning decisions: the conditions (or reasons) listed after the decision are part of it.
_FOLD_LEAD = re.compile(
    r"(?P<what>conditions?|reasons?)\s*(?:as\s+follows|(?:set\s+out\s+)?below)?\s*(?::-|[:\-–—])\s*$"
    r"|the\s+following\s+(?P<what2>conditions?|reasons?)\b[^:]*(?::-|[:\-–—])\s*$",
    re.IGNORECASE,
)

# Decisions recorded with no keyword at all (the fallbacks, tried only when no keyword
# decision is found, since narrative uses the same words):
# "The minutes of the meeting held on 24 February were approved as a correct record."
_PASSIVE = re.compile(
    r"\b(?:were|was)\s+(?:duly\s+|formally\s+|unanimously\s+)?"
    r"(?P<verb>approved|agreed|confirmed|adopted|endorsed|accepted|signed|noted|"
    r"received\s+and\s+(?:noted|adopted))\b",
    re.IGNORECASE,
)
# Noting is a decision about papers, not about who declared what or sent apologies.
_NOTED_SUBJECT = re.compile(
    r"\b(?:minutes?|report|update|plan|accounts|correspondence|recommendations?|position|"
    r"decisions?|programme|letter|petition|response|statement\s+of|forecast|strategy)\b",
    re.IGNORECASE,
)
_NOT_A_DECISION = re.compile(
    r"^it\s+was\s+noted|apolog|declar|interests?\b|transparency|substitut|dispensation",
    re.IGNORECASE,
)
# "The Leader suggested, and Council accepted, that ..." / "Members agreed that ...".
_BODY_ACCEPTED = re.compile(
    rf"\b{_BODIES}\s+(?:accepted|agreed|approved|decided|resolved)\s*,?\s+(?=(?:that|to)\b)",
    re.IGNORECASE,
)
# "Councillor A, seconded by Councillor B, moved that ..." and later "... was carried".
_MOVED = re.compile(r"\bmoved\s+that\s+(?P<motion>.+)", re.IGNORECASE | re.DOTALL)
_CARRIED = re.compile(r"\b(?:was|were)\b[^.]{0,60}\bcarried\b", re.IGNORECASE)
# A paragraph that is itself the resolution, its "RESOLVED" lost to an image or a heading
# the page leaves out (mgAi.aspx, mgDecisionDetails.aspx).
_BARE_THAT = re.compile(r"^that\b[,\s]+\S+(?:\s+\S+){3,}", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(“\"'])")


def extract_resolutions(minutes: str | None) -> list[str]:
    """The decisions recorded in one agenda item's minutes, as short bullet points.

    [] when the minutes record no decision (a report was only discussed, say).
    """
    if not minutes or not minutes.strip():
        return []
    minutes = _SPACED_THAT.sub("THAT", minutes)
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
        found = _without_keyword(blocks)
    found = _nest(found)
    # "That the reports be adopted. That the recommendation be agreed." is two decisions.
    found = [part for bullet in found for part in re.split(r"(?<=[a-z)]\.)\s+(?=That\s)", bullet)]
    return dedupe([clean for b in found if (clean := tidy(b))])[:MAX_RESOLUTIONS]


def _read_decision(blocks: list[str], index: int) -> tuple[int, list[str]]:
    """If blocks[index] records a decision: how many blocks it spans and its bullets."""
    body = strip_marker(blocks[index])
    for trigger in _TRIGGERS:
        match = trigger.search(body)
        if match is None:
            continue
        groups = match.groupdict()
        vote = _vote_label(groups.get("vote2") or groups.get("vote") or "")
        rest = LEAD.sub("", body[match.end() :])
        keyword = match.group(0).strip().lower()
        recommended = keyword.startswith("recommend")
        if recommended and rest and not THAT.sub("", rest).startswith(("be ", "the ")):
            # "RECOMMENDED to Council that ..." loses its meaning without the keyword.
            rest = f"Recommended {rest}"
        if THAT.sub("", rest).strip(" .:;,-–—") == "":
            rest = ""  # "RESOLVED THAT" on a line of its own: the decision follows.
        bullets, consumed = _following_items(blocks, index + 1)
        if _HEADING_ONLY.match(body) or not rest:
            if bullets:
                lead = ["Recommended:"] if recommended else []
                return 1 + consumed, _with_vote(lead + bullets, vote)
            following = index + 1
            if following < len(blocks) and not _starts_decision(blocks[following]):
                # A "Decision" or "RESOLVED" heading over one plain paragraph, perhaps
                # itself the lead of a list ("That Cabinet:" / "subject to conditions:").
                lead_text = blocks[following]
                if _FOLD_LEAD.search(lead_text.rstrip()):
                    items, used = _fold_items(blocks, following + 1, lead_text)
                    return 2 + used, _with_vote(_lead_and_list(lead_text, items), vote)
                more, extra = _following_items(blocks, following + 1)
                if more and lead_text.rstrip().endswith((":", "—", "-", "–")):
                    return 2 + extra, _with_vote(_lead_and_list(lead_text, more), vote)
                return 2 + extra, _with_vote([lead_text, *more], vote)
            return 0, []
        ending = rest.rstrip()
        if _FOLD_LEAD.search(ending):
            items, used = _fold_items(blocks, index + 1, ending)
            return 1 + used, _with_vote(_lead_and_list(ending, items), vote)
        if not ending.endswith((":", "—", "-", "–", ";", " and", " or")):
            # A complete sentence: numbered paragraphs after it are the next minutes.
            bullets, consumed = [], 0
        inline = _split_inline(rest)
        if len(inline) > 1:
            return 1 + consumed, _with_vote(inline + bullets, vote)
        if bullets and ending.endswith((":", "—", "-", "–")):
            return 1 + consumed, _with_vote(_lead_and_list(ending, bullets), vote)
        return 1 + consumed, _with_vote([rest, *bullets], vote)
    if _BODY_OVER_LIST.match(body):
        bullets, consumed = _following_items(blocks, index + 1)
        if bullets:
            return 1 + consumed, _lead_and_list(body, bullets)
    return 0, []


def _fold_items(blocks: list[str], start: int, lead: str) -> tuple[list[str], int]:
    """The conditions or reasons under a planning decision: its list, or failing that
    the one plain paragraph that gives the reason."""
    items, used = _following_items(blocks, start)
    if items:
        return items, used
    reasons = "reason" in lead[-40:].lower()
    if reasons and start < len(blocks) and not _starts_decision(blocks[start]):
        return [blocks[start]], 1
    return [], 0


def _nest(items: list[str]) -> list[str]:
    """Keep a sub-list under its lead: "1. That the Cabinet approves:" followed by
    "(a) ...", "(b) ..." is one decision, up to the next "2."."""
    out: list[str] = []
    index = 0
    while index < len(items):
        current, kind = items[index], marker_kind(items[index])
        index += 1
        if kind is not None and current.rstrip().endswith((":", ":-", "—", "–")):
            subs = []
            while index < len(items) and marker_kind(items[index]) not in (None, kind):
                subs.append(" ".join(items[index].split()))
                index += 1
            if subs:
                current = f"{current.rstrip()} {' '.join(subs)}"
        out.append(current)
    return out


def _lead_and_list(lead: str, items: list[str]) -> list[str]:
    """A lead sentence ending in ':' over its list. Conditions of a planning permission
    and reasons for a refusal fold into the one decision; otherwise the lead is kept
    unless it only says who decided."""
    intro = lead.rstrip().rstrip(":—–- ").strip()
    fold = _FOLD_LEAD.search(lead.rstrip())
    if fold:
        what = (fold.group("what") or fold.group("what2") or "").lower()
        count = len(items)
        base = lead[: fold.start()].rstrip()
        if what.startswith("reason"):
            if count == 1:
                return [f"{intro}: {strip_marker(items[0])}"]
            return [f"{base} {count} reasons." if "following" in fold.group(0) else intro]
        noun = "condition" if count == 1 else "conditions"
        if "following" in fold.group(0).lower():
            return [f"{base} {count} {noun}." if count else f"{base} conditions."]
        return [f"{intro} ({count} {noun})."]
    lead_bullet = (
        [] if _BARE_INTRO.match(intro + ":") or _BODY_OVER_LIST.match(lead) else [intro + ":"]
    )
    return lead_bullet + items


def _without_keyword(blocks: list[str]) -> list[str]:
    """Decisions in minutes that use no keyword: bare infinitives ("To note the report."),
    a paragraph that is the resolution ("That the minutes be approved ..."), passive
    records ("The minutes ... were approved as a correct record."), "Council accepted,
    that ...", and a motion moved and then carried."""
    found: list[str] = []
    carried = any(_CARRIED.search(b) for b in blocks)
    for block in blocks:
        body = strip_marker(block)
        has_marker = body != block
        if _INFINITIVE.match(body):
            found.append(body)
            continue
        if _BARE_THAT.match(body) and (has_marker or body[0] == "T"):
            found.append(body)
            continue
        for sentence in _SENTENCE_END.split(body):
            accepted = _BODY_ACCEPTED.search(sentence)
            if accepted:
                found.append(sentence[accepted.end() :])
                continue
            moved = _MOVED.search(sentence)
            if moved and carried:
                found.append(moved.group("motion"))
                continue
            if _is_passive_decision(sentence):
                sentence = re.sub(
                    r"^(?:accordingly|thereafter|therefore),?\s+", "", sentence, flags=re.I
                )
                # "... approved subject to the following amendments:" over what follows.
                found.append(re.sub(r"\s+the\s+following\s+(\w+)\s*:-?\s*$", r" \1.", sentence))
    return found


def _is_passive_decision(sentence: str) -> bool:
    passive = _PASSIVE.search(sentence)
    if passive is None or _NOT_A_DECISION.search(sentence):
        return False
    subject = sentence[: passive.start()]
    if passive.group("verb").lower() == "noted":
        return bool(_NOTED_SUBJECT.search(subject))
    return True


def _starts_decision(block: str) -> bool:
    body = strip_marker(block)
    return any(trigger.search(body) for trigger in _TRIGGERS)


def _following_items(blocks: list[str], start: int) -> tuple[list[str], int]:
    """The run of list items (1. / (a) / - ...) that continues a decision."""
    index = start
    while (
        index < len(blocks) and MARKER.match(blocks[index]) and not _starts_decision(blocks[index])
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
