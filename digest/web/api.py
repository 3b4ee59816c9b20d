"""The JSON API at /api/v1, read-only: its one blueprint, and the councils and their
meetings. The API's other routes sit next to their HTML pages and register on `bp`:
digests (api_digests.py), councillors, search and topics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, url_for
from werkzeug.wrappers import Response

from digest import councils, demand, meetings
from digest.models import Council, CouncilStatus, Meeting
from digest.topics import meeting_topics
from digest.web.context import db, runtime
from digest.web.public import council_or_404, ranked
from digest.weekly.documents import kind_of, rank_of
from digest.weekly.meeting import asked_of, plain_summary_of, resolutions_of

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def council_summary(council: Council) -> dict[str, Any]:
    return {
        "slug": council.slug,
        "name": council.name,
        "nation": council.nation,
        "gss_code": council.gss_code,
        "status": council.status.value,
        "system": council.system.value,
        "url": url_for("public.council", slug=council.slug, _external=True),
        "api_url": url_for("api.council", slug=council.slug, _external=True),
        "meetings_url": url_for("api.council_meetings", slug=council.slug, _external=True),
    }


@bp.get("/councils")
def council_list() -> Response:
    return jsonify({"councils": [council_summary(c) for c in councils.search(db())]})


@bp.get("/councils/<slug>")
def council(slug: str) -> Response:
    found = council_or_404(slug)
    rt = runtime()
    now = rt.now()
    data = council_summary(found)
    data.update(
        {
            "website": found.website,
            "source_url": found.base_url or None,
            "health": {
                "last_success_at": found.last_success_at.isoformat()
                if found.last_success_at
                else None,
                "last_error": found.last_error,
                "consecutive_failures": found.consecutive_failures,
                "stale": found.is_stale(now),
            },
            "waitlist": None,
        }
    )
    if found.status == CouncilStatus.WAITLIST:
        row = demand.find(ranked(), found.id)
        data["waitlist"] = {
            "position": row.position if row else None,
            "waiting": demand.bucket(
                row.subscribers if row else 0, rt.config.demand.public_threshold
            ),
        }
    return jsonify(data)


@bp.get("/councils/<slug>/meetings")
def council_meetings(slug: str) -> Response:
    """Recent (newest first) and upcoming (soonest first) collected meetings."""
    session = db()
    found = council_or_404(slug)
    rt = runtime()
    lists = meetings.recent_and_upcoming(session, found, rt.now(), rt.site.tz)
    return jsonify(
        {
            "council": found.slug,
            "last_success_at": _iso(found.last_success_at),
            "stale": found.is_stale(rt.now()),
            "recent": [meeting_json(m) for m in meetings.with_parts(session, lists.recent)],
            "upcoming": [meeting_json(m) for m in meetings.with_parts(session, lists.upcoming)],
        }
    )


def meeting_json(meeting: Meeting) -> dict[str, Any]:
    rt = runtime()
    tz = rt.config.tz
    local = meeting.start_at.astimezone(tz)
    return {
        "id": meeting.id,
        "source_id": meeting.source_id,
        "committee": meeting.committee,
        "title": meeting.title,
        "status": meeting.status.value,
        "status_label": meeting.status_label,
        "date": meeting.start_date.isoformat(),
        "start": local.isoformat() if meeting.time_known else None,
        "start_utc": meeting.start_at.isoformat(),
        "time_known": meeting.time_known,
        "venue": meeting.venue or None,
        "source_url": meeting.source_url or None,
        "agenda_published": meeting.agenda_published,
        "minutes_published": meeting.minutes_published,
        # The meeting in plain words (SPEC §12.1); null when there is nothing to say.
        "summary": plain_summary_of(meeting, tz=tz, now=rt.now()),
        "topics": meeting_topics(meeting.items),
        "agenda_items": [
            {
                "number": item.number,
                "title": item.title,
                "topics": list(item.topics or []),
                "restricted": item.is_restricted,
                "agenda_text": item.agenda_text,
                "minutes_text": item.minutes_text,
                "resolutions": [] if item.is_restricted else resolutions_of(item),
                "asked_to_decide": [] if item.is_restricted else asked_of(item),
            }
            for item in meeting.items
        ],
        "documents": [
            {
                "title": doc.title,
                "kind": kind_of(doc),
                # Why its text could not be read (a PDF that is encrypted, scanned, ...).
                "problem": doc.problem or None,
                # Exempt papers: the title is public, the link leads to a login page.
                "url": None if doc.is_restricted else doc.url,
                "restricted": doc.is_restricted,
                "published_on": doc.published_on.isoformat() if doc.published_on else None,
            }
            for doc in sorted(meeting.documents, key=lambda d: rank_of(kind_of(d)))
        ],
        "attendees": [
            {"name": a.name, "role": a.role, "party": a.party, "attendance": a.attendance}
            for a in meeting.attendees
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
