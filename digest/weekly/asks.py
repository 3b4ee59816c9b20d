"""What a meeting is about to be asked to decide, read from the text of an agenda item or
of its report (SPEC §12.1: "Asked to decide:").

Agenda text says it in a sentence ("The Cabinet is recommended to approve ...", "Members
are asked to note ...", "To consider the report and agree ..."); a report says it in a
"Recommendation(s)" section, a heading followed by a paragraph or a numbered list, ended
by the next heading ("Reasons for the recommendations", "1. Background"). Both kinds of
text come through `digest.htmltext.html_to_text` or PDF extraction, so paragraphs are
separated by blank lines and list markers are kept.

The text must have its paragraphs separated by blank lines (what html_to_text gives;
text from a PDF should be joined into paragraphs first), as for extract_resolutions.

Everything here is a pure function of the text.
"""

from __future__ import annotations

import re

from digest.weekly.bullets import dedupe, marker_kind, strip_marker, tidy

MAX_ASKS = 8
# A long section is a report's body, not its recommendations.
_MAX_SECTION_BLOCKS = 12

_BODIES = (
    r"(?:committee|cabinet|council|panel|board|sub-committee|executive|members?|forum|"
    r"commission|authority|meeting|councillors?|leader|(?:the\s+)?cabinet\s+member|"
    r"portfolio\s+holder|mayor)"
)
# "Recommendation(s)" / "Recommended decision(s)" / "Decision(s) required" as a heading,
# alone on its line or followed by a colon and the first recommendation.
_SECTION = re.compile(
    r"^(?:\d{1,2}(?:\.\d{1,2})?\.?\s+)?(?:officer(?:'s|s'|s)?\s+|summary\s+of\s+)?"
    r"(?:recommendations?|recommendation\(s\)|recommended\s+decisions?|recommended\s+resolutions?|"
    r"decisions?\s+(?:required|sought|requested)|proposed\s+decisions?|"
    r"action\s+required)"
    r"(?:\s+(?:to|for)\s+(?:the\s+)?[\w'’ -]{1,40}?)?\s*(?P<sep>[:.\-–—]|$)",
    re.IGNORECASE,
)
# A sentence asking the meeting to decide: "The Committee is recommended to:",
# "Members are asked to note ...", "Cabinet is requested to approve ...".
_ASKED = re.compile(
    rf"^(?:(?:it\s+is|it's)\s+recommended\s+(?:that\s+)?(?:the\s+)?(?:{_BODIES}\s+)?"
    rf"|(?:that\s+)?(?:the\s+)?(?:[\w'’&-]+\s+){{0,4}}?{_BODIES}\s+(?:is|are|will\s+be|be)\s+"
    r"(?:recommended|asked|requested|invited|being\s+asked)\s+)"
    r"(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
# The bare infinitives an agenda uses for what the meeting will do.
_INFINITIVE = re.compile(
    r"^to\s+(?:approve|note|agree|endorse|recommend|adopt|consider\s+and\s+(?:approve|agree|"
    r"determine|decide|comment)|determine|decide|agree|authori[sz]e|delegate|appoint|accept|"
    r"confirm|support|reject|refuse|grant|allocate|award|set|review\s+and\s+(?:approve|agree))\b",
    re.IGNORECASE,
)
# Where a recommendations section ends: the next heading.
_NEXT_HEADING = re.compile(
    r"^(?:\d{1,2}(?:\.0)?\.?\s+)?(?:reasons?\b|background\b|introduction\b|purpose\b|"
    r"summary\b|executive\s+summary\b|alternative|options?\b|implications?\b|"
    r"financial\b|legal\b|risk|consultation\b|equalit|appendi|contact\b|"
    r"report\s+author|wards?\s+affected|key\s+decision|background\s+papers|"
    r"supporting\s+information|details\b|main\s+issues|issues?\b|proposals?\b|"
    r"context\b|next\s+steps)",
    re.IGNORECASE,
)


def extract_asked_to_decide(text: str | None) -> list[str]:
    """What an agenda item, or its report, asks the meeting to decide, as short bullets.

    [] when the text asks for nothing (an item for information, or no text).
    """
    if not text or not text.strip():
        return []
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    asks = _from_section(blocks) or _from_sentences(blocks)
    return dedupe([clean for ask in asks if (clean := _tidy_ask(ask))])[:MAX_ASKS]


def _from_section(blocks: list[str]) -> list[str]:
    for index, block in enumerate(blocks):
        first_line = block.split("\n", 1)[0].strip()
        match = _SECTION.match(first_line)
        if match is None:
            continue
        rest = block[match.end() :].strip() if match.group("sep") else ""
        if not match.group("sep") and first_line[match.end() :].strip():
            continue  # "Recommendations made by the panel were ..." is a sentence
        section = ([rest] if rest else []) + _section_body(blocks, index + 1)
        asks = _asks_in(section)
        if asks:
            return asks
    return []


def _section_body(blocks: list[str], start: int) -> list[str]:
    body: list[str] = []
    for block in blocks[start : start + _MAX_SECTION_BLOCKS]:
        plain = strip_marker(block)
        if _NEXT_HEADING.match(plain) and _looks_like_heading(plain):
            break
        if _SECTION.match(block) and not body:
            continue
        body.append(block)
    return body


def _looks_like_heading(block: str) -> bool:
    return len(block) < 80 and not block.rstrip().endswith((".", ";", ","))


def _asks_in(section: list[str]) -> list[str]:
    """The recommendations in a section: a lead sentence ending in ':' folds into the list
    under it; "X is recommended to:" alone is no recommendation."""
    asks: list[str] = []
    for block in section:
        body = strip_marker(block)
        asked = _ASKED.match(body)
        if asked:
            body = asked.group("rest").strip()
            if not body or body.rstrip(" :") in {"", "to", "that"}:
                continue
            body = _as_infinitive(body)
        if len(body.split()) < 3:
            continue
        asks.append(body)
    return asks


def _from_sentences(blocks: list[str]) -> list[str]:
    asks: list[str] = []
    for index, block in enumerate(blocks):
        body = strip_marker(block)
        asked = _ASKED.match(body)
        if asked:
            rest = asked.group("rest").strip()
            if rest.rstrip(" :—–-").lower() in {"", "to", "that"} or rest.endswith(":"):
                # "The Committee is recommended to:" over a list.
                lead = "" if rest.rstrip(" :—–-").lower() in {"", "to", "that"} else rest
                listed = _list_after(blocks, index + 1)
                if lead:
                    asks.append(_as_infinitive(lead))
                asks.extend(listed)
            else:
                asks.append(_as_infinitive(_first_sentence(rest)))
        elif _INFINITIVE.match(body):
            asks.append(_first_sentence(body))
    return asks


def _list_after(blocks: list[str], start: int) -> list[str]:
    listed: list[str] = []
    kind = None
    for block in blocks[start : start + _MAX_SECTION_BLOCKS]:
        body = strip_marker(block)
        if body == block:
            break  # the list has ended, or it was never a list ("dates: Friday 24 May")
        if _looks_like_heading(body) and (_NEXT_HEADING.match(body) or body.isupper()):
            break  # "3. REASONS FOR THE RECOMMENDATIONS"
        # "i." reads as a letter and "ii." as a roman numeral: one family here.
        this = "a" if marker_kind(block) == "r" else marker_kind(block)
        kind = kind or this
        if this != kind:
            break  # "(a) ... (b) ..." then "3.1 The current policy ..."
        listed.append(body)
    return listed


def _as_infinitive(rest: str) -> str:
    """'approve the plan' / 'to approve the plan' / 'that the plan be approved' all read
    as a bullet of their own."""
    rest = rest.strip()
    if re.match(r"^(?:that|to)\b", rest, re.IGNORECASE):
        return rest
    return f"To {rest}"


def _first_sentence(text: str) -> str:
    match = re.match(r"^(.+?[.;])(?:\s+[A-Z]|$)", text, re.DOTALL)
    return match.group(1) if match else text


def _tidy_ask(text: str) -> str:
    cleaned = tidy(text)
    if len(cleaned.rstrip(".:").split()) < 3:
        return ""
    return cleaned
