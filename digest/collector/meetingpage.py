"""The meeting's public page (`ieListDocuments.aspx?CId=..&MId=..`): the documents
GetMeeting does not list.

ModernGov puts the meeting-wide files on this page only, in `ul.mgActionList`: the
agenda frontsheet, the public reports pack, supplementary packs, "Printed minutes" and
"Printed decisions" (`documents/g<MId>/Printed minutes ....pdf`, or
`mgConvert2PDF.aspx?ID=` on some installs). See research/moderngov.md §2. A council that
publishes its minutes only as a PDF has them nowhere else.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from digest.collector.http_client import Fetched
from digest.collector.moderngov import ParsedDocument
from digest.collector.safexml import BadResponse
from digest.htmltext import clean_inline, html_parser

_SIZE_SUFFIX = re.compile(r"\s*(?:pdf\s*icon\s*)?\b(?:PDF|DOC|DOCX)\s+[\d.,]+\s*[KM]B\s*$", re.I)


def parse_documents(fetched: Fetched, base_url: str, meeting_id: str) -> tuple[ParsedDocument, ...]:
    """The meeting-wide documents linked from the page, in page order, each URL once."""
    body = fetched.body
    if not body.strip():
        raise BadResponse("the meeting page is empty")
    try:
        root = lxml.html.document_fromstring(body, parser=html_parser())
    except (etree.ParserError, ValueError) as exc:
        raise BadResponse(f"the meeting page is not readable HTML ({exc})") from exc
    page_url = fetched.final_url or fetched.url
    found: dict[str, ParsedDocument] = {}
    in_lists = root.xpath(
        '//ul[contains(concat(" ", normalize-space(@class), " "), " mgActionList ")]//a[@href]'
    )
    anywhere = root.xpath("//a[@href]")
    for anchor in [*in_lists, *anywhere]:
        href = (anchor.get("href") or "").strip()
        url = urljoin(page_url, href)
        if urlsplit(url).scheme not in ("http", "https"):
            continue
        # Outside the action list, only this meeting's own folder of generated files.
        if anchor not in in_lists and f"/documents/g{meeting_id}/" not in url:
            continue
        title = _SIZE_SUFFIX.sub("", clean_inline(anchor.text_content())).strip()
        if not title:
            title = clean_inline(anchor.get("title")).removeprefix("Link to ").strip()
        if not title or url in found:
            continue
        found[url] = ParsedDocument(
            source_id="",
            title=title,
            url=url,
            published_on=None,
            is_restricted=False,
            item_source_id=None,
        )
    return tuple(found.values())
