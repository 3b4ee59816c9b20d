"""The JSON API: councils and their meetings, read-only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, url_for
from werkzeug.wrappers import Response

from digest import councils, demand
from digest.models import Council, CouncilStatus
from digest.web.context import db, runtime
from digest.web.public import ranked

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
    }


@bp.get("/councils")
def council_list() -> Response:
    return jsonify({"councils": [council_summary(c) for c in councils.search(db())]})


@bp.get("/councils/<slug>")
def council(slug: str) -> Response:
    session = db()
    found = councils.get_by_slug(session, slug)
    if found is None:
        abort(404)
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
        row = next((r for r in ranked() if r.council.id == found.id), None)
        data["waitlist"] = {
            "position": row.position if row else None,
            "waiting": demand.bucket(
                row.subscribers if row else 0, rt.config.demand.public_threshold
            ),
        }
    return jsonify(data)
