"""A council's Atom feed and meetings calendar."""

from __future__ import annotations

from flask import Blueprint, Response, url_for

from digest.web import feed_documents
from digest.web.context import db, runtime
from digest.web.public import council_or_404

bp = Blueprint("feeds", __name__)
# Feed readers and calendar apps poll; let caches share a copy for a few minutes.
CACHE = "public, max-age=900"


@bp.get("/councils/<slug>/feed.atom")
def atom(slug: str) -> Response:
    council = council_or_404(slug)
    rt = runtime()
    body = feed_documents.atom(
        db(),
        council,
        rt.now(),
        rt.site,
        rt.links,
        self_url=rt.links.url(url_for("feeds.atom", slug=council.slug)),
    )
    response = Response(body, mimetype="application/atom+xml")
    response.headers["Cache-Control"] = CACHE
    return response


@bp.get("/councils/<slug>/meetings.ics")
def calendar(slug: str) -> Response:
    council = council_or_404(slug)
    rt = runtime()
    body = feed_documents.calendar(db(), council, rt.now(), rt.site, rt.links)
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="{council.slug}-meetings.ics"'
    response.headers["Cache-Control"] = CACHE
    return response
