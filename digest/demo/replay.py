"""A loopback stand-in for two councils' ModernGov web services, for `make demo`.

It replays real responses bundled in `responses/` (see SOURCES.md there): Manchester's
GetMeeting answers as published, and real Cheshire East minutes placed into the same
GetMeeting shape. Only the dates move, to last week and next week, so the weekly digest
has something to report and preview whatever the day. The collector reads it exactly as
it reads a council: over HTTP, through its fetcher and parsers.

    server = ReplayServer(today)
    server.start()
    server.base_url("manchester")  # http://127.0.0.1:<port>/manchester
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Any
from xml.etree import ElementTree as ET

import defusedxml.ElementTree as safe_xml
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

RESPONSES = resources.files("digest.demo") / "responses"


@dataclass(frozen=True)
class ReplayedMeeting:
    id: str
    committee_id: str
    committee: str
    days_from_today: int
    time: str
    status: str
    detail: bytes  # a GetMeeting answer; its ids and dates are rewritten when served


def _read(name: str) -> bytes:
    return (RESPONSES / name).read_bytes()


def _set(parent: ET.Element, tag: str, value: str) -> None:
    for element in parent.iter(tag):
        element.text = value


def _cheshire_east_detail() -> bytes:
    """The real Manchester GetMeeting shape holding real Cheshire East minutes: each item
    keeps its council's title and minutes text, and links its source page."""
    root = safe_xml.fromstring(_read("getmeeting_manchester_with_minutes_trimmed.xml"))
    _set(root, "meetinglocation", "Committee Suite 1, 2 & 3, Westfields, Sandbach")
    for attendees in root.findall("attendees") + root.findall("meetingattendees"):
        root.remove(attendees)  # Manchester's attendee is not Cheshire East's
    items = root.find("agendaitems")
    assert items is not None
    template = items.find("agendaitem")
    assert template is not None
    for old in list(items):
        items.remove(old)
    for number, source in enumerate(json.loads(_read("cheshire_east_items.json"))["items"], 1):
        item = copy.deepcopy(template)
        _set(item, "agendaitemid", str(90000 + number))
        _set(item, "agendaitemtitle", source["title"])
        _set(item, "agendaitemnumber", str(number))
        _set(item, "fulldisplaynumberformat", f"{number}.")
        _set(item, "agendatext", "")
        minutes = "".join(
            f"<p>{_escape(p)}</p>" for p in source["minutes"].split("\n\n") if p.strip()
        )
        _set(item, "minutesnonemptyhtmlbody", minutes)
        _set(item, "refertocommittee", "Strategic Planning Board")
        for doc in item.iter("linkeddoc"):
            _set(doc, "attachmentid", str(80000 + number))
            _set(doc, "title", "Decision details (Cheshire East Council)")
            _set(doc, "url", source["url"])
        items.append(item)
    return _serialise(root)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _serialise(root: ET.Element) -> bytes:
    head = b'<?xml version="1.0" encoding="utf-8"?>\n'
    return head + bytes(ET.tostring(root, encoding="utf-8"))


def demo_councils() -> dict[str, list[ReplayedMeeting]]:
    with_minutes = _read("getmeeting_manchester_with_minutes_trimmed.xml")
    cancelled = _read("getmeeting_manchester_cancelled_trimmed.xml")
    return {
        "manchester": [
            ReplayedMeeting(
                "4967", "144", "Audit Committee", -7, "10.00 am", "Confirmed", with_minutes
            ),
            ReplayedMeeting(
                "4966", "144", "Audit Committee", 7, "10.00 am", "Cancelled", cancelled
            ),
            ReplayedMeeting(
                "4968", "144", "Audit Committee", 9, "2.00 pm", "Confirmed", with_minutes
            ),
        ],
        "cheshire-east": [
            ReplayedMeeting(
                "7101",
                "215",
                "Strategic Planning Board",
                -6,
                "10.30 am",
                "Confirmed",
                _cheshire_east_detail(),
            ),
        ],
    }


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class ReplayServer:
    def __init__(self, today: date) -> None:
        self.today = today
        self.councils = demo_councils()
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet
        )
        self.port = self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def base_url(self, slug: str) -> str:
        return f"http://127.0.0.1:{self.port}/{slug}"

    def _day(self, meeting: ReplayedMeeting) -> date:
        return self.today + timedelta(days=meeting.days_from_today)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        parts = request.path.strip("/").split("/")
        meetings = self.councils.get(parts[0]) if parts else None
        operation = parts[-1].lower() if len(parts) == 3 else ""
        if meetings is None or parts[1].lower() != "mgwebservice.asmx":
            body, status = b"Not found", 404
        elif operation == "getmeetings":
            body, status = self._getmeetings(meetings), 200
        elif operation == "getmeeting":
            wanted = request.args.get("lMeetingId", "")
            found = [m for m in meetings if m.id == wanted]
            body, status = (self._getmeeting(found[0]), 200) if found else (b"Not found", 500)
        else:
            body, status = b"Web Service method name is not valid.", 500
        content_type = "text/xml; charset=utf-8" if status == 200 else "text/plain"
        return Response(body, status=status, content_type=content_type)(environ, start_response)

    def _getmeetings(self, meetings: list[ReplayedMeeting]) -> bytes:
        root = ET.Element("getmeetings")
        ET.SubElement(root, "meetingscount").text = f" {len(meetings)}"
        committees: dict[str, list[ReplayedMeeting]] = {}
        for m in meetings:
            committees.setdefault(m.committee_id, []).append(m)
        ET.SubElement(root, "committeescount").text = f" {len(committees)}"
        for committee_id, group in committees.items():
            block = ET.SubElement(root, "committee")
            ET.SubElement(block, "committeeid").text = committee_id
            ET.SubElement(block, "committeetitle").text = group[0].committee
            ET.SubElement(block, "committeemeetingcount").text = f" {len(group)}"
            listing = ET.SubElement(block, "committeemeetings")
            for m in group:
                entry = ET.SubElement(listing, "meeting")
                ET.SubElement(entry, "meetingid").text = m.id
                ET.SubElement(entry, "meetingdate").text = self._day(m).strftime("%d/%m/%Y")
                ET.SubElement(entry, "meetingstatus").text = m.status
                ET.SubElement(entry, "meetingtime").text = m.time
                ET.SubElement(entry, "iswebcast").text = "False"
        return _serialise(root)

    def _getmeeting(self, m: ReplayedMeeting) -> bytes:
        root = safe_xml.fromstring(m.detail)
        day = self._day(m).strftime("%d/%m/%Y")
        _set(root, "meetingid", m.id)
        _set(root, "agendaid", m.id)
        for tag in ("meetingdate", "actualmeetingdate", "preferreddate", "publicationdate"):
            _set(root, tag, day)
        _set(root, "meetingstatus", m.status)
        _set(root, "meetingtime", m.time)
        held = m.days_from_today < 0
        _set(root, "minutepublished", str(held))
        if not held:
            # Before the meeting there are no minutes yet.
            _set(root, "minutesnonemptyhtmlbody", "\n")
            _set(root, "isminutepublished", "False")
        return _serialise(root)
