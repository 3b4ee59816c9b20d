"""From a PDF's pages to each agenda item's minutes text.

Word processors repeat a header and a footer on every page ("Cabinet - 17 March 2026",
"Page 3 of 12", "Minute Book 2026/27 - 412") and the text layer keeps them between the
sentences of a minute that runs over a page break. They are found by repetition, not by
position alone: a line near the top or bottom of a page is dropped when the same line,
with its digits ignored, is near the top or bottom of at least half of the pages (two at
least); lone page numbers ("7", "- 7 -", "Page 7", "7 of 12") go wherever they sit at a
page's edge.

Items are found by the titles GetMeeting already gave us, in agenda order: the minute for
"Local Plan Review" starts at the first line, after the previous item's, that reads like
that title (case, punctuation, the minute's own number and a title wrapped over two lines
ignored). The text up to the next item's title is the item's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

EDGE_LINES = 3
_PAGE_NUMBER = re.compile(
    r"^\s*(?:page\s*)?[-–—(]?\s*\d{1,4}\s*[-–—)]?\s*(?:(?:of|/)\s*\d{1,4})?\s*$", re.I
)
_LEADING_NUMBER = re.compile(
    r"^\s*(?:minute\s+|item\s+)?[(]?[0-9]{1,4}[a-z]?(?:[./][0-9]{1,3})*[.)]?\s+", re.I
)
_CLOSED = re.compile(
    r"^\s*the\s+meeting\s+(?:closed|ended|finished|concluded|terminated)\b.{0,40}$", re.I
)
_WORD = re.compile(r"[a-z0-9]+")


def _shape(line: str) -> str:
    """A line with digits and spacing ignored: 'Page 3 of 12' and 'Page 4 of 12' agree."""
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", line)).strip().lower()


def clean_pages(pages: Sequence[str]) -> str:
    """The pages' text joined, without running headers, footers and page numbers."""
    split = [[line.rstrip() for line in page.split("\n")] for page in pages]
    edges: Counter[str] = Counter()
    for lines in split:
        content = [i for i, line in enumerate(lines) if line.strip()]
        edge = set(content[:EDGE_LINES] + content[-EDGE_LINES:])
        edges.update({_shape(lines[i]) for i in edge})
    needed = max(2, (len(split) + 1) // 2)
    repeated = {shape for shape, n in edges.items() if n >= needed and shape}
    kept: list[str] = []
    for lines in split:
        content = [i for i, line in enumerate(lines) if line.strip()]
        edge = set(content[:EDGE_LINES] + content[-EDGE_LINES:])
        for i, line in enumerate(lines):
            if i in edge and (_shape(line) in repeated or _PAGE_NUMBER.match(line)):
                continue
            kept.append(line)
    # "The meeting closed at 7.42 pm" is no part of the last minute's decision.
    kept = [line for line in kept if not _CLOSED.match(line)]
    text = "\n".join(kept)
    # Soft hyphens and the odd control character PDF text layers carry.
    text = text.replace("\u00ad", "").replace("\ufffe", "").replace("\x02", "")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


@dataclass(frozen=True)
class ItemHeading:
    key: str  # the caller's id for the item
    number: str
    title: str


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _title_words(title: str) -> list[str]:
    # Up to eight words are enough to recognise a title and survive a trailing
    # "(pages 5 - 12)" or a reworded tail.
    return _words(title)[:8]


def split_items(text: str, items: Sequence[ItemHeading]) -> dict[str, str]:
    """Each item's text (without its heading), for the items whose title is found."""
    lines = text.split("\n")
    starts: list[tuple[int, int, str]] = []  # (line index, lines the heading takes, key)
    cursor = 0
    for item in items:
        wanted = _title_words(item.title)
        if len(wanted) < 1:
            continue
        found = _find(lines, cursor, wanted)
        if found is None:
            continue
        at, span = found
        starts.append((at, span, item.key))
        cursor = at + span
    sections: dict[str, str] = {}
    for index, (at, span, key) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(lines)
        body = "\n".join(lines[at + span : end]).strip()
        if body:
            sections[key] = body
    return sections


def _find(lines: list[str], cursor: int, wanted: list[str]) -> tuple[int, int] | None:
    for at in range(cursor, len(lines)):
        first = _LEADING_NUMBER.sub("", lines[at])
        numbered = first != lines[at]
        words = _words(first)
        if not words:
            continue
        # Titles wrap: read this line and, if needed, the next two together.
        for span in (1, 2, 3):
            if span > 1:
                if at + span - 1 >= len(lines):
                    break
                words = words + _words(lines[at + span - 1])
            if len(words) >= len(wanted):
                if words[: len(wanted)] == wanted:
                    return at, span
                break
            if words != wanted[: len(words)]:
                break
        # A numbered heading that shortens the agenda's title ("3. Apologies" for
        # "Apologies for absence") is the item too.
        short = _words(first)
        if numbered and short and short == wanted[: len(short)]:
            return at, 1
    return None


_RECOMMENDATION_HEADING = re.compile(
    r"^\s*(?:\d{1,2}(?:\.\d{1,2})*\.?\s+)?recommendations?(?:\s*\(s\))?\s*:?\s*$", re.I
)
# Where the recommendations end: the report's next numbered or known section.
_NEXT_SECTION = re.compile(
    r"^\s*(?:\d{1,2}\.?\s+(?:[A-Z][A-Za-z]+\s*){1,6}$"
    r"|(?:reasons?\s+for|background|purpose|introduction|executive\s+summary|"
    r"alternative\s+options|financial\s+implications|legal\s+implications|"
    r"report\s+summary|wards?\s+affected|contact\s+officer)\b)",
    re.I,
)
MAX_RECOMMENDATIONS_CHARS = 1500


def recommendations(text: str) -> str:
    """The "Recommendation(s)" section of a committee report, or '' when it has none."""
    lines = text.split("\n")
    for at, line in enumerate(lines):
        if not _RECOMMENDATION_HEADING.match(line):
            continue
        kept: list[str] = []
        for following in lines[at + 1 :]:
            if kept and _NEXT_SECTION.match(following):
                break
            if following.strip():
                kept.append(following.strip())
            if sum(len(k) for k in kept) > MAX_RECOMMENDATIONS_CHARS:
                break
        section = "\n".join(kept).strip()
        if section:
            return section[:MAX_RECOMMENDATIONS_CHARS]
    return ""
