"""A fake ModernGov web service on loopback: a real HTTP server (werkzeug, threaded)
serving the real fixtures in tests/fixtures/moderngov/ and variations built from them.

One server can stand in for many council hosts: it picks the site by the Host header,
so tests map names such as `democracy.wigan.test` to 127.0.0.1 (see `loopback_resolver`)
and politeness is observable per host. Every request is logged with its start and end
time. Sites can answer slowly, fail, redirect, or serve any body with any status.

    fake = FakeModernGov()
    site = fake.add_site("democracy.wigan.test", wigan_site(today))
    ... Fetcher(config, resolver=loopback_resolver) ... f"http://democracy.wigan.test:{fake.port}"
    fake.stop()
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import defusedxml.ElementTree as safe_xml
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "moderngov"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def loopback_resolver(host: str, port: int) -> list[Any]:
    """Every name resolves to 127.0.0.1: lets one loopback server play many hosts."""
    return [ipaddress.ip_address("127.0.0.1")]


# --- building real-shaped XML from the fixtures ------------------------------------------


@dataclass
class FakeMeeting:
    id: str
    committee_id: str
    committee_title: str
    date: date
    time: str = "10.00 am"
    status: str = "Confirmed"
    venue: str = "Council Antechamber, Level 2, Town Hall Extension"
    agenda: bool = True
    minutes: bool = False
    items: list[ET.Element] | None = None  # None: the two real items from the fixture


def _ddmmyyyy(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def _set(parent: ET.Element, tag: str, value: str) -> None:
    child = parent.find(tag)
    assert child is not None, tag
    child.text = value


def getmeetings_xml(meetings: list[FakeMeeting]) -> bytes:
    """A GetMeetings answer in the committee-block shape of the Manchester fixture."""
    root = safe_xml.fromstring(fixture("getmeetings_manchester_audit_trimmed.xml"))
    block_template = root.find("committee")
    assert block_template is not None
    meeting_template = block_template.find("committeemeetings/meeting")
    assert meeting_template is not None
    root.remove(block_template)
    by_committee: dict[str, list[FakeMeeting]] = {}
    for m in meetings:
        by_committee.setdefault(m.committee_id, []).append(m)
    _set(root, "meetingscount", f" {len(meetings)}")
    _set(root, "committeescount", f" {len(by_committee)}")
    for committee_id, group in by_committee.items():
        block = copy.deepcopy(block_template)
        _set(block, "committeeid", committee_id)
        _set(block, "committeetitle", group[0].committee_title)
        _set(block, "committeemeetingcount", f" {len(group)}")
        listing = block.find("committeemeetings")
        assert listing is not None
        for old in list(listing):
            listing.remove(old)
        for m in group:
            entry = copy.deepcopy(meeting_template)
            _set(entry, "meetingid", m.id)
            _set(entry, "meetingdate", _ddmmyyyy(m.date))
            _set(entry, "meetingstatus", m.status)
            _set(entry, "meetingtime", m.time)
            listing.append(entry)
        root.append(block)
    return _serialise(root)


def getmeeting_xml(m: FakeMeeting) -> bytes:
    """A GetMeeting answer: the Manchester meeting with minutes, or (cancelled / no agenda)
    the Manchester cancelled meeting, with this meeting's id, date and status."""
    name = (
        "getmeeting_manchester_with_minutes_trimmed.xml"
        if m.agenda and not m.status.lower().startswith("cancel")
        else "getmeeting_manchester_cancelled_trimmed.xml"
    )
    root = safe_xml.fromstring(fixture(name))
    _set(root, "meetingid", m.id)
    _set(root, "meetingdate", _ddmmyyyy(m.date))
    _set(root, "meetingstatus", m.status)
    _set(root, "meetingtime", m.time)
    _set(root, "meetinglocation", m.venue)
    _set(root, "agendapublished", str(m.agenda))
    _set(root, "minutepublished", str(m.minutes))
    items = root.find("agendaitems")
    assert items is not None
    if m.items is not None:
        for old in list(items):
            items.remove(old)
        items.extend(m.items)
    if not m.minutes:
        for minutes in items.iter("minutesnonemptyhtmlbody"):
            minutes.text = "\n"
    return _serialise(root)


def _parse_day(value: str) -> date:
    d, m, y = (int(part) for part in value.split("/"))
    return date(y, m, d)


def _serialise(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")


def agenda_item(
    item_id: str,
    number: str,
    title: str,
    agenda_text: str = "",
    *,
    restricted: bool = False,
    documents: tuple[tuple[str, str], ...] = (),
) -> ET.Element:
    """A GetMeeting <agendaitem> shaped like the Manchester fixture's, without minutes,
    linking `documents` (title, url) as the real one links its report."""
    root = safe_xml.fromstring(fixture("getmeeting_manchester_with_minutes_trimmed.xml"))
    template = root.find("agendaitems/agendaitem")
    assert template is not None
    element: ET.Element = copy.deepcopy(template)
    _set(element, "agendaitemid", item_id)
    _set(element, "agendaitemtitle", title)
    _set(element, "agendatext", f"<p>{agenda_text}</p>" if agenda_text else "\n")
    _set(element, "fulldisplaynumberformat", f"{number}.")
    _set(element, "minutesnonemptyhtmlbody", "\n")
    _set(element, "isrestricted", str(restricted))
    linked = element.find("linkeddocuments")
    assert linked is not None
    template_doc = linked.find("linkeddoc")
    assert template_doc is not None
    linked.remove(template_doc)
    for position, (doc_title, url) in enumerate(documents):
        doc = copy.deepcopy(template_doc)
        _set(doc, "attachmentid", f"{item_id}{position}")
        _set(doc, "title", doc_title)
        _set(doc, "url", url)
        linked.append(doc)
    return element


def meeting_page_html(committee: str, when: str, links: list[tuple[str, str]]) -> bytes:
    """A ModernGov meeting page (ieListDocuments.aspx) with its mgActionList of
    meeting-wide files, as research/moderngov.md §2 describes the real ones."""
    items = "\n".join(
        f'<li><a href="{href}" title="Link to {title}">{title} PDF 180 KB</a></li>'
        for title, href in links
    )
    return f"""<!DOCTYPE html>
<html lang="en-GB"><head><title>Agenda for {committee} on {when}</title></head>
<body><div id="modgov"><div class="mgContent">
<h2 class="mgSubTitleTxt">{committee} - {when}</h2>
<p>Venue: Council Chamber, Town Hall</p>
<ul class="mgActionList">
{items}
</ul>
<table class="mgItemTable"><tr><td class="mgItemNumberCell">1.</td>
<td><p class="mgAiTitleTxt">Apologies</p></td></tr></table>
<div class="mgLinks"><a href="mgCommitteeDetails.aspx?ID=1">Committee details</a></div>
</div></div></body></html>""".encode()


def counts_only_xml() -> bytes:
    """The 'Sutton style' GetMeetings answer: counts and no committee blocks."""
    return (
        b'<?xml version="1.0" encoding="utf-8"?>\n<getmeetings>\n'
        b"  <meetingscount> 0</meetingscount>\n  <committeescount> 0</committeescount>\n"
        b"</getmeetings>"
    )


# --- the server ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "text/xml; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    chunked: bool = False  # stream the body without a Content-Length
    trickle: float = 0.0  # send the body one byte at a time, this many seconds apart


Handler = Callable[[Request], Reply | None]


@dataclass
class FakeSite:
    """One council host. `meetings` drive GetMeetings and GetMeeting; `override` can
    answer any request first (return None to fall through)."""

    meetings: list[FakeMeeting] = field(default_factory=list)
    override: Handler | None = None
    getmeetings_body: bytes | None = None  # serve this instead of one built from meetings
    etag: bool = False  # send ETags and answer If-None-Match with 304
    ignores_dates: bool = False  # like the hosts that ignore sFromDate/sToDate
    # Anything else by path: "/documents/g9001/Printed minutes.pdf", and meeting pages as
    # "/ieListDocuments.aspx?MId=9001" (see `meeting_page_html`).
    files: dict[str, Reply] = field(default_factory=dict)

    def reply(self, request: Request) -> Reply:
        if self.override is not None:
            answer = self.override(request)
            if answer is not None:
                return answer
        key = request.path
        if key.lower().endswith("/ielistdocuments.aspx"):
            key = f"{key}?MId={request.args.get('MId', '')}"
        if key in self.files:
            found = self.files[key]
            if found.status != 200 or not self.etag:
                return found
            return replace(self._maybe_304(request, found.body), content_type=found.content_type)
        operation = request.path.rsplit("/", 1)[-1].lower()
        if operation == "getmeetings":
            if not request.args.get("sFromDate") or not request.args.get("sToDate"):
                return Reply(b"Missing parameter", status=500, content_type="text/plain")
            body = self.getmeetings_body or getmeetings_xml(self._in_window(request))
            return self._maybe_304(request, body)
        if operation == "getmeeting":
            wanted = request.args.get("lMeetingId", "")
            for m in self.meetings:
                if m.id == wanted:
                    return self._maybe_304(request, getmeeting_xml(m))
            return Reply(b"Object reference not set", status=500, content_type="text/plain")
        return Reply(b"Web Service method name is not valid.", status=500)

    def _in_window(self, request: Request) -> list[FakeMeeting]:
        if self.ignores_dates:
            return self.meetings
        start, end = (_parse_day(request.args[k]) for k in ("sFromDate", "sToDate"))
        return [m for m in self.meetings if start <= m.date <= end]

    def _maybe_304(self, request: Request, body: bytes) -> Reply:
        if not self.etag:
            return Reply(body)
        tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == tag:
            return Reply(b"", status=304, headers=(("ETag", tag),))
        return Reply(body, headers=(("ETag", tag),))


@dataclass(frozen=True)
class Logged:
    host: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    started: float
    finished: float
    status: int

    @property
    def operation(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class _Server(ThreadedWSGIServer):
    request_queue_size = 1024  # hundreds of councils may connect at once in the benchmark


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the fake keeps its own log


class FakeModernGov:
    def __init__(
        self,
        *,
        latency: float = 0.0,
        tls: ssl.SSLContext | None = None,
        address: str = "127.0.0.1",  # another loopback address plays another server
    ) -> None:
        self.latency = latency
        self.sites: dict[str, FakeSite] = {}
        self.log: list[Logged] = []
        self._lock = threading.Lock()
        self.server = _Server(address, 0, self._app, handler=_QuietHandler, ssl_context=tls)
        self.port: int = self.server.server_port
        self.scheme = "https" if tls else "http"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def add_site(self, host: str, site: FakeSite | None = None) -> FakeSite:
        site = site or FakeSite()
        self.sites[host.lower()] = site
        return site

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}"

    def requests_to(self, host: str) -> list[Logged]:
        with self._lock:
            return [r for r in self.log if r.host == host.lower()]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        started = time.monotonic()
        request = Request(environ)
        host = request.host.rsplit(":", 1)[0].lower()
        site = self.sites.get(host) or self.sites.get("*")
        reply = site.reply(request) if site else Reply(b"no such site", 404, "text/plain")
        pause = self.latency + reply.delay
        if pause:
            time.sleep(pause)
        body: Any = iter([reply.body]) if reply.chunked else reply.body
        if reply.trickle:
            body = _trickled(reply.body, reply.trickle)
        response = Response(body, status=reply.status, content_type=reply.content_type)
        if reply.trickle:
            # A declared length: the bytes arrive as one body, not as HTTP chunks.
            response.headers["Content-Length"] = str(len(reply.body))
        for name, value in reply.headers:
            response.headers[name] = value
        with self._lock:
            self.log.append(
                Logged(
                    host=host,
                    method=request.method,
                    path=request.path,
                    query=request.query_string.decode(),
                    headers=dict(request.headers),
                    started=started,
                    finished=time.monotonic(),
                    status=reply.status,
                )
            )
        return response(environ, start_response)


def _trickled(body: bytes, pause: float) -> Iterator[bytes]:
    for i in range(len(body)):
        yield body[i : i + 1]
        time.sleep(pause)


def on(operation: str, reply: Reply, *, meeting_id: str | None = None) -> Handler:
    """An override answering `reply` to one operation (and, for GetMeeting, one id)."""

    def handler(request: Request) -> Reply | None:
        if request.path.rsplit("/", 1)[-1].lower() != operation.lower():
            return None
        if meeting_id is not None and request.args.get("lMeetingId") != meeting_id:
            return None
        return reply

    return handler


# --- ready-made sites ---------------------------------------------------------------------


def manchester_like(today: date, *, start_id: int = 4966) -> list[FakeMeeting]:
    """The two real Manchester Audit Committee meetings, moved next to `today`: one held
    last week with minutes, one cancelled next week, plus an upcoming Council meeting
    with a compound status."""
    return [
        FakeMeeting(
            id=str(start_id + 1),
            committee_id="144",
            committee_title="Audit Committee",
            date=today - timedelta(days=7),
            agenda=True,
            minutes=True,
        ),
        FakeMeeting(
            id=str(start_id),
            committee_id="144",
            committee_title="Audit Committee",
            date=today + timedelta(days=6),
            status="Cancelled",
            agenda=False,
        ),
        FakeMeeting(
            id=str(start_id + 2),
            committee_id="319",
            committee_title="Council",
            date=today + timedelta(days=13),
            time="6.00 pm",
            status="Confirmed; Budget Council",
            venue="Council Chamber - Town Hall, Library Street, Wigan WN1 1YN",
            agenda=True,
            minutes=False,
        ),
    ]
