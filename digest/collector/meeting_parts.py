"""Storing one meeting's detail: its agenda items (tagged with topics, "asked to decide"
read from their text), attendees and documents (each classified, PDFs queued to be
read). Updated in place, added when new, never deleted. Used by store.py; nothing here
commits."""

from __future__ import annotations

from datetime import datetime

from digest import topics
from digest.collector.parsed import MeetingDetail
from digest.documents import kinds
from digest.models import AgendaItem, Attendee, Document, Meeting, MeetingStatus
from digest.weekly.asks import extract_asked_to_decide


def store_items_and_attendees(
    meeting: Meeting, detail: MeetingDetail, now: datetime
) -> dict[str, AgendaItem]:
    """Agenda items and attendees: updated in place, added when new, and kept when the
    source stops listing them (we never delete what was collected). Items are tagged with
    topics as they are stored. Returns the items by source id, for the documents to point
    at once the items have ids."""
    items = {item.source_id: item for item in meeting.items}
    tax = topics.taxonomy()
    for position, parsed in enumerate(detail.items):
        item = items.get(parsed.source_id)
        if item is None:
            item = AgendaItem(source_id=parsed.source_id, title=parsed.title, first_seen_at=now)
            meeting.items.append(item)
            items[parsed.source_id] = item
        item.position = position
        item.number = parsed.number[:40]
        item.title = parsed.title
        item.is_restricted = parsed.is_restricted
        item.is_decision = parsed.is_decision
        # Keep earlier text rather than blank it when a later answer omits it.
        agenda_text = parsed.agenda_text or ("" if parsed.is_restricted else item.agenda_text)
        if agenda_text != item.agenda_text or (agenda_text and item.asked_to_decide is None):
            # Read once per change of text, not on every page view or digest.
            item.asked_to_decide = extract_asked_to_decide(agenda_text)
        item.agenda_text = agenda_text
        item.minutes_text = parsed.minutes_text or (
            "" if parsed.is_restricted else item.minutes_text
        )
        if parsed.minutes_text or parsed.is_restricted:
            item.minutes_document_id = None  # the web service's minutes win over a PDF's
        topics.tag_item(item, tax)
    attendees = {a.name: a for a in meeting.attendees}
    for position, parsed_person in enumerate(detail.attendees):
        name = parsed_person.name[:200]
        person = attendees.get(name)
        if person is None:
            person = Attendee(name=name)
            meeting.attendees.append(person)
            attendees[name] = person
        person.position = position
        person.member_source_id = parsed_person.member_source_id[:40]
        person.role = parsed_person.role[:200]
        person.party = parsed_person.party[:120]
        person.attendance = parsed_person.attendance[:80]
    return items


def store_documents(
    meeting: Meeting,
    detail: MeetingDetail,
    items: dict[str, AgendaItem],
    *,
    read_pdfs: bool = True,
    reports: int = 0,
) -> None:
    """Documents, one per URL, linked to the first item that lists them, each with its
    kind. Printed minutes and decision notices of a meeting whose minutes the web service
    does not give are queued for `digest worker` to read (once per document), and so are
    up to `reports` item reports of an upcoming meeting whose agenda text is thin (their
    "Recommendation(s)" say what the meeting is asked to decide)."""
    documents = {doc.url: doc for doc in meeting.documents}
    has_html_minutes = any(
        item.minutes_text and item.minutes_document_id is None for item in meeting.items
    )
    upcoming = meeting.status in (MeetingStatus.SCHEDULED, MeetingStatus.RESCHEDULED)
    reports_queued = sum(1 for d in meeting.documents if d.kind == "report" and d.extract_state)
    for position, parsed in enumerate(detail.documents):
        doc = documents.get(parsed.url[:700])
        if doc is None:
            doc = Document(url=parsed.url[:700], title=parsed.title[:500])
            meeting.documents.append(doc)
            documents[doc.url] = doc
        owner = items.get(parsed.item_source_id or "")
        doc.agenda_item_id = owner.id if owner is not None else None
        doc.source_id = parsed.source_id[:40]
        doc.position = position
        doc.title = parsed.title[:500]
        doc.published_on = parsed.published_on or doc.published_on
        doc.is_restricted = parsed.is_restricted
        doc.kind = kinds.classify(
            parsed.title, parsed.url, linked_to_item=parsed.item_source_id is not None
        )
        if (
            read_pdfs
            and not doc.extract_state
            and not doc.is_restricted
            and not has_html_minutes
            and kinds.reads_decisions(doc.kind)
        ):
            doc.extract_state = "pending"
        elif (
            read_pdfs
            and upcoming
            and doc.kind == "report"
            and not doc.extract_state
            and not doc.is_restricted
            and owner is not None
            and not owner.is_restricted
            and len(owner.agenda_text) < kinds.THIN_AGENDA_CHARS
            and reports_queued < reports
        ):
            doc.extract_state = "pending"
            reports_queued += 1
