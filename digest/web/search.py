"""/search and /api/v1/search: full-text search across collected meetings (SPEC §12.4)."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, jsonify, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from digest import councils, search
from digest.models import Council, CouncilStatus
from digest.web import api
from digest.web.context import db

bp = Blueprint("search", __name__)

MAX_QUERY_CHARS = 1000


def parse(args: MultiDict[str, str]) -> search.SearchQuery:
    """The query string → a SearchQuery; raises BadSearch with a message for people."""
    text = args.get("q", "")
    if len(text) > MAX_QUERY_CHARS:
        raise search.BadSearch(
            f"Your search is {len(text):,} characters long; search for at most "
            f"{MAX_QUERY_CHARS:,} characters, a few words work best."
        )
    council_id = None
    slug = args.get("council", "").strip()[:80]
    if slug:
        council = councils.get_by_slug(db(), slug)
        if council is None:
            raise search.BadSearch(f"There is no council “{slug}”.")
        council_id = council.id
    return search.SearchQuery(
        text=text,
        council_id=council_id,
        committee=args.get("committee", "").strip()[:300],
        topic=args.get("topic", "").strip()[:100],
        date_from=_day(args.get("from", ""), "from"),
        date_to=_day(args.get("to", ""), "to"),
        page=_page(args.get("page", "1")),
    )


def _day(value: str, name: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise search.BadSearch(f"“{name}” must be a date like 2026-11-30.") from None


def _page(value: str) -> int:
    if not value.strip().isdigit() or len(value) > 4:
        raise search.BadSearch("“page” must be a whole number.")
    return int(value)


def _councils_of(hits: list[search.Hit]) -> dict[int, Council]:
    ids = {h.council_id for h in hits}
    if not ids:
        return {}
    return {c.id: c for c in db().scalars(sa.select(Council).where(Council.id.in_(ids)))}


def _run() -> tuple[search.SearchQuery | None, search.SearchPage, str | None]:
    try:
        query = parse(request.args)
        return query, search.search(db(), query), None
    except search.BadSearch as exc:
        return None, search.SearchPage(), str(exc)


def _page_url(endpoint: str, args: dict[str, str], page: int, *, external: bool = False) -> str:
    values: dict[str, Any] = {**args, "page": str(page)}
    return url_for(endpoint, _external=external, **values)


@bp.get("/search")
def page() -> tuple[str, int]:
    query, found, error = _run()
    enabled = councils.search(db(), "", CouncilStatus.ENABLED)
    args = request.args.to_dict()
    next_url = prev_url = None
    if query is not None and found.has_next:
        next_url = _page_url("search.page", args, query.page + 1)
    if query is not None and query.page > 1:
        prev_url = _page_url("search.page", args, query.page - 1)
    html = render_template(
        "public/search.html",
        q=request.args.get("q", "")[:MAX_QUERY_CHARS],
        args=args,
        query=query,
        found=found,
        error=error,
        by_id=_councils_of(found.hits),
        enabled=enabled,
        next_url=next_url,
        prev_url=prev_url,
    )
    return html, 400 if error else 200


@api.bp.get("/search", endpoint="search")
def api_search() -> Response | tuple[Response, int]:
    query, found, error = _run()
    if error is not None or query is None:
        return jsonify({"error": error}), 400
    by_id = _councils_of(found.hits)
    results: list[dict[str, Any]] = []
    for hit in found.hits:
        council = by_id[hit.council_id]
        results.append(
            {
                "council": council.slug,
                "council_name": council.name,
                "meeting_id": hit.meeting_id,
                "meeting_url": url_for(
                    "meetings.meeting", slug=council.slug, meeting_id=hit.meeting_id, _external=True
                ),
                "agenda_item_id": hit.agenda_item_id,
                "kind": hit.kind,
                "committee": hit.committee,
                "date": hit.start_date.isoformat(),
                "title": hit.title,
                "snippet_html": str(hit.snippet),
            }
        )
    next_url = None
    if found.has_next:
        next_url = _page_url("api.search", request.args.to_dict(), query.page + 1, external=True)
    return jsonify(
        {
            "results": results,
            "total": found.total,
            "total_is_lower_bound": found.total_capped,
            "next": next_url,
            "terms": found.terms,
        }
    )
