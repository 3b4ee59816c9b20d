"""Council rich text (agenda and minutes HTML, usually exported from Word) as clean plain
text: one block per paragraph, list item or table row, blocks separated by a blank line.

The result is what we store and what summaries read: no tags, no entities, no Word
artefacts, single spaces, numbering and bullets kept so decisions can still be found.
"""

from __future__ import annotations

import html
import re
import threading

import lxml.html
from lxml import etree

BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
        "center",
    }
)
DROPPED_TAGS = frozenset(
    {
        "script",
        "style",
        "head",
        "title",
        "meta",
        "link",
        "noscript",
        "template",
        "iframe",
        "object",
        "svg",
        "xml",
    }
)
# Word's conditional comments around list numbers: <![if !supportLists]> ... <![endif]>
_CONDITIONAL = re.compile(r"<!\[(?:if[^\]]*|endif)\]>", re.IGNORECASE)
_SPACE = re.compile(r"[ \t\r\n\f\v\u00a0\u200b\u2007\u202f]+")
_LINE_BREAK = "\u2028"  # stands for <br> until whitespace is normalised
_parsers = threading.local()


def html_parser() -> lxml.html.HTMLParser:
    """This thread's own lxml HTML parser. lxml locks a parser for the whole parse and
    lets go of the GIL inside it, so threads sharing lxml.html's module-wide parser queue
    behind one another, each holder waiting its turn for the GIL with the lock held: the
    collector's hundreds of host threads spent seconds a parse that way."""
    parser: lxml.html.HTMLParser | None = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = lxml.html.HTMLParser()
    return parser


def html_to_text(fragment: str | None) -> str:
    """Plain text of an HTML fragment; '' for empty or whitespace-only input."""
    if not fragment or not fragment.strip():
        return ""
    source = fragment
    if "<" not in source and "&lt;" in source:
        # Escaped twice at the source: the markup arrived as text.
        source = html.unescape(source)
    source = _CONDITIONAL.sub("", source)
    try:
        root = lxml.html.fragment_fromstring(source, create_parent="div", parser=html_parser())
    except (etree.ParserError, ValueError):
        return _normalise(html.unescape(re.sub(r"<[^>]*>", " ", source)))
    walker = _Walker()
    walker.walk(root, depth=0)
    walker.flush()
    return "\n\n".join(walker.blocks)


def _normalise(text: str) -> str:
    text = html.unescape(text) if "&" in text else text
    text = _SPACE.sub(" ", text)
    lines = [line.strip() for line in text.split(_LINE_BREAK)]
    return "\n".join(line for line in lines if line)


class _Walker:
    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.buffer: list[str] = []

    def flush(self) -> None:
        text = _normalise("".join(self.buffer))
        self.buffer.clear()
        if text:
            self.blocks.append(text)

    def walk(self, element: etree._Element, depth: int) -> None:
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if not tag or tag in DROPPED_TAGS:  # comments, processing instructions, scripts
            return
        if tag == "br":
            self.buffer.append(_LINE_BREAK)
            return
        if tag == "tr":
            self._row(element, depth)
            return
        block = tag in BLOCK_TAGS
        if block:
            self.flush()
        if tag == "li":
            self.buffer.append("  " * max(0, depth - 1) + self._marker(element) + " ")
        if element.text:
            self.buffer.append(element.text)
        child_depth = depth + 1 if tag in ("ul", "ol") else depth
        for child in element:
            self.walk(child, child_depth)
            if child.tail:
                self.buffer.append(child.tail)
        if block:
            self.flush()

    def _row(self, row: etree._Element, depth: int) -> None:
        """A table row as one block when its cells are short, as in minutes laid out as
        '| 5. | RESOLVED ... |'; cells holding paragraphs keep them."""
        self.flush()
        cells: list[list[str]] = []
        for cell in row:
            if not isinstance(cell.tag, str) or cell.tag.lower() not in ("td", "th"):
                continue
            inner = _Walker()
            inner.walk(cell, depth)
            inner.flush()
            if inner.blocks:
                cells.append(inner.blocks)
        if not cells:
            return
        if all(len(blocks) == 1 for blocks in cells):
            self.blocks.append(" ".join(blocks[0] for blocks in cells))
            return
        first, rest = cells[0], cells[1:]
        if len(first) == 1 and len(first[0]) <= 8 and rest:
            # A short leading cell is the item number: keep it with what follows.
            rest[0] = [f"{first[0]} {rest[0][0]}", *rest[0][1:]]
        else:
            rest.insert(0, first)
        for blocks in rest:
            self.blocks.extend(blocks)

    @staticmethod
    def _marker(item: etree._Element) -> str:
        parent = item.getparent()
        if parent is None or not isinstance(parent.tag, str) or parent.tag.lower() != "ol":
            return "-"
        try:
            start = int(parent.get("start", "1"))
        except ValueError:
            start = 1
        position = [c for c in parent if isinstance(c.tag, str) and c.tag.lower() == "li"].index(
            item
        )
        return f"{start + position}."


def clean_inline(value: str | None) -> str:
    """A plain-text field from council XML (a title, a venue): entities that were escaped
    twice at the source decoded, whitespace collapsed; '' for whitespace-only."""
    if not value:
        return ""
    text = value
    for _ in range(2):
        if "&" not in text:
            break
        text = html.unescape(text)
    if _MARKUP.search(text):
        # Markup escaped at the source ("&lt;p&gt;Planning&lt;/p&gt;"): its text only.
        text = html_to_text(text)
    return _SPACE.sub(" ", text).strip()


# A tag or comment, not a lone "<" as in "< 5 years".
_MARKUP = re.compile(r"<(?:/?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?|!--.*?--)>", re.DOTALL)
