"""The JSON API for weekly digests (on the /api/v1 blueprint): the archive, and one
digest's meetings by section."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import jsonify, url_for
from werkzeug.wrappers import Response

from digest.models import Council, Digest, DigestMeeting, Meeting
from digest.web import api
from digest.web.context import db
from digest.web.digests import council_digests, digest_or_404
from digest.web.public import council_or_404
from digest.weekly.weeks import IsoWeek

LIMIT = 260


def _digest(council: Council, digest: Digest) -> dict[str, Any]:
    week = IsoWeek.parse(digest.week)
    return {
        "week": digest.week,
        "starts_on": week.monday.isoformat(),
        "subject": digest.subject,
        "quiet": digest.is_quiet,
        "counts": {k: v for k, v in digest.counts.items() if k != "detail_level"},
        "built_at": digest.built_at.isoformat(),
        "url": url_for("digests.week", slug=council.slug, week=digest.week, _external=True),
        "api_url": url_for("api.digest", slug=council.slug, week=digest.week, _external=True),
    }


@api.bp.get("/councils/<slug>/digests")
def digests(slug: str) -> Response:
    council = council_or_404(slug)
    rows = council_digests(council, LIMIT)
    return jsonify({"council": council.slug, "digests": [_digest(council, d) for d in rows]})


@api.bp.get("/councils/<slug>/digests/<week>")
def digest(slug: str, week: str) -> Response:
    council = council_or_404(slug)
    found = digest_or_404(council, week)
    session = db()
    data = _digest(council, found)
    sections: dict[str, list[dict[str, Any]]] = {}
    rows = session.execute(
        sa.select(DigestMeeting.section, Meeting)
        .join(Meeting, Meeting.id == DigestMeeting.meeting_id)
        .where(DigestMeeting.digest_id == found.id)
        .order_by(Meeting.start_at, Meeting.id)
    )
    for section, meeting in rows:
        sections.setdefault(section.value, []).append(
            {
                "id": meeting.id,
                "committee": meeting.committee,
                "title": meeting.title,
                "start": meeting.start_at.isoformat(),
                "status": meeting.status.value,
                "url": url_for(
                    "meetings.meeting", slug=council.slug, meeting_id=meeting.id, _external=True
                ),
                "source_url": meeting.source_url or None,
            }
        )
    data["sections"] = {
        name: sections.get(name, []) for name in ("reported", "cancelled", "minutes", "upcoming")
    }
    return jsonify(data)
