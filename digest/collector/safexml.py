"""Reading untrusted XML from council servers, and the value quirks of ModernGov XML.

Parsing goes through defusedxml with DTDs forbidden outright: ModernGov never sends one,
so any DTD is refused before an entity can expand (billion laughs) or fetch a file or URL
(external entities). No "recover" mode either: a truncated answer must be an error, not
a shorter list of meetings.

Text is decoded before parsing, by RFC 7303 section 3's order: the HTTP charset
parameter, else a byte order mark, else the XML declaration, else UTF-8. Labels that say
ISO-8859-1 or ASCII are read as Windows-1252 (as browsers do, WHATWG Encoding): servers
label Word's curly quotes and dashes that way. Bytes that are not valid UTF-8 in a UTF-8
document are read as Windows-1252 one by one (text pasted from Word into a UTF-8 page),
so a council is repaired rather than made uncollectable.
"""

from __future__ import annotations

import codecs
import re
from datetime import date, datetime, time
from xml.etree.ElementTree import Element, ParseError, tostring

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from digest.collector.http_client import Fetched, FetchError
from digest.htmltext import clean_inline

_HTML_ROOTS = frozenset({"html", "head", "body", "script", "div", "form", "title", "p"})
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HTML_START = re.compile(rb"^\s*(?:<!doctype\s+html|<html|<script|<head|<body)", re.IGNORECASE)
_TIME = re.compile(
    r"^(?P<h>\d{1,2})(?:[.:](?P<m>\d{2}))?\s*(?P<ampm>[ap])?\.?\s*m?\.?$", re.IGNORECASE
)


class BadResponse(FetchError):
    """The server answered, but not with the ModernGov XML we asked for."""


_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_DECLARATION = re.compile(rb"^\s*<\?xml\s[^>]*?\?>")
_DECLARED = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# What these labels mean on the web in practice.
_AS_WINDOWS_1252 = frozenset({"latin-1", "iso8859-1", "ascii", "cp1252"})


def _cp1252_repair(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return bytes(bad).decode("cp1252", "replace"), error.end


codecs.register_error("digest-cp1252-repair", _cp1252_repair)


def _codec(label: str) -> str | None:
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return "cp1252" if name in _AS_WINDOWS_1252 else name


def decode_xml(body: bytes, content_type: str) -> str:
    """The document as text, its encoding found as RFC 7303 says (see the module)."""
    found = _CHARSET.search(content_type)
    codec = _codec(found.group(1)) if found else None
    if codec is None:
        codec = next((name for bom, name in _BOMS if body.startswith(bom)), None)
    if codec is None:
        declaration = _DECLARATION.match(body.lstrip(codecs.BOM_UTF8))
        declared = _DECLARED.search(declaration.group(0)) if declaration else None
        codec = _codec(declared.group(1).decode("ascii")) if declared else None
    codec = codec or "utf-8"
    if codec in ("utf-16", "utf-32") or codec.startswith(("utf-16", "utf-32")):
        text = body.decode(codec, "replace")
    elif codec == "utf-8":
        text = body.decode("utf-8", "digest-cp1252-repair")
    else:
        text = body.decode(codec, "replace")
    return text.lstrip("\ufeff")


def _as_utf8(body: bytes, content_type: str) -> bytes:
    """The body re-encoded as UTF-8 with its XML declaration removed, for the parser
    (which would otherwise obey the declaration over what we decided)."""
    text = decode_xml(body, content_type)
    declaration = re.match(r"^\s*<\?xml\s[^>]*?\?>", text)
    if declaration:
        text = text[declaration.end() :]
    return text.encode("utf-8")


def parse_document(fetched: Fetched, expected_roots: frozenset[str], what: str) -> Element:
    """The root element of a ModernGov answer, or BadResponse saying plainly what came back."""
    body = fetched.body
    content_type = fetched.content_type.split(";", 1)[0].strip().lower()
    if not body.strip():
        raise BadResponse(f"{what}: the site answered with an empty body")
    if content_type == "text/html" or _HTML_START.match(body) or _looks_like_html(body):
        raise BadResponse(f"{what}: {_html_message(body)}")
    try:
        root: Element = safe_xml.fromstring(_as_utf8(body, fetched.content_type), forbid_dtd=True)
    except DefusedXmlException as exc:
        raise BadResponse(
            f"{what}: the XML declares a DTD or entities ({type(exc).__name__}); refused for safety"
        ) from exc
    except ParseError as exc:
        raise BadResponse(
            f"{what}: the answer is not well-formed XML (truncated or broken: {exc})"
        ) from exc
    tag = root.tag.lower() if isinstance(root.tag, str) else ""
    if tag in _HTML_ROOTS:
        raise BadResponse(f"{what}: {_html_message(body)}")
    if tag not in expected_roots:
        raise BadResponse(
            f"{what}: the XML is not a ModernGov answer (root <{tag}>, expected "
            f"<{'> or <'.join(sorted(expected_roots))}>)"
        )
    return root


def _looks_like_html(body: bytes) -> bool:
    # Comments before the markup, as in a JavaScript "redirect to https" stub.
    stripped = re.sub(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*", b"", body[:4096], flags=re.S)
    return bool(_HTML_START.match(stripped))


def _html_message(body: bytes) -> str:
    match = _TITLE.search(body[:65536])
    title = clean_inline(match.group(1).decode("utf-8", "replace")) if match else ""
    called = f' ("{title[:80]}")' if title else ""
    return (
        f"the site answered with an HTML page{called} instead of ModernGov XML "
        "(an error page, a firewall or JavaScript challenge, or a redirect stub)"
    )


def text(element: Element | None, path: str) -> str:
    """A child's text, cleaned: whitespace-only is '', double escaping undone."""
    if element is None:
        return ""
    child = element.find(path)
    if child is None:
        return ""
    return clean_inline(child.text)


def verbatim(element: Element | None, path: str) -> str:
    """A child's text with only surrounding whitespace removed (URLs: a second round of
    entity decoding would turn '&copy=' in a query string into '©=')."""
    if element is None:
        return ""
    child = element.find(path)
    return (child.text or "").strip() if child is not None else ""


def raw_markup(element: Element | None, path: str) -> str:
    """A child's content as markup, for escaped HTML fields. Installs that send the HTML
    unescaped give child elements instead of text; both come back as one string."""
    if element is None:
        return ""
    child = element.find(path)
    if child is None:
        return ""
    parts = [child.text or ""]
    for grandchild in child:
        parts.append(tostring(grandchild, encoding="unicode"))
    return "".join(parts)


def flag(element: Element | None, path: str) -> bool:
    return text(element, path).lower() == "true"


def day(value: str) -> date | None:
    """A dd/mm/yyyy date; never read month-first. None for anything else."""
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value.strip())
    if not match:
        return None
    d, m, y = (int(g) for g in match.groups())
    try:
        return date(y, m, d)
    except ValueError:
        return None


def clock_time(value: str) -> time | None:
    """'10.00 am', '2.00 pm', '13:30', '6:30pm', '12 noon' as a time; None if unclear."""
    cleaned = value.strip().lower()
    if cleaned in ("noon", "12 noon", "midday", "12 midday"):
        return time(12, 0)
    match = _TIME.match(cleaned)
    if not match:
        return None
    hour, minute = int(match["h"]), int(match["m"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["ampm"] == "p" else 0)
    elif match["m"] is None:
        return None  # a bare number is not a time
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def ddmmyyyy(value: date | datetime) -> str:
    return value.strftime("%d/%m/%Y")
