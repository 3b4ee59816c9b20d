"""A meeting's summary page."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from digest import councillors
from digest.models import Meeting
from digest.web.context import db, runtime
from digest.web.public import council_or_404
from digest.weekly.glossary import glossary
from digest.weekly.meeting import load_meetings, summarise

bp = Blueprint("meetings", __name__)


@bp.get("/councils/<slug>/meetings/<int:meeting_id>")
def meeting(slug: str, meeting_id: int) -> str:
    council = council_or_404(slug)
    found = load_meetings(db(), [meeting_id])
    if not found or found[0].council_id != council.id:
        abort(404)
    rt = runtime()
    notes = glossary().footnoter()

    def page(m: Meeting) -> str:
        return rt.links.meeting(council.slug, m.id)

    summary = summarise(found[0], tz=rt.config.tz, now=rt.now(), notes=notes, page_url=page)
    linked = councillors.ids_by_source(
        db(), council.id, [a.member_source_id for a in summary.attendees]
    )
    return render_template(
        "meetings/meeting.html",
        council=council,
        m=summary,
        footnotes=notes.notes,
        councillor_ids=linked,
    )
