"""Councillor pages and their JSON (SPEC §12.4)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template, url_for
from werkzeug.wrappers import Response

from digest import councillors
from digest.models import Council, Councillor
from digest.web import api
from digest.web.context import db
from digest.web.public import council_or_404

bp = Blueprint("councillors", __name__)


@bp.get("/councils/<slug>/councillors")
def council_councillors(slug: str) -> str:
    council = council_or_404(slug)
    session = db()
    return render_template(
        "councillors/list.html",
        council=council,
        wards=councillors.current_by_ward(session, council),
        former=councillors.former(session, council),
    )


@bp.get("/councils/<slug>/councillors/<int:councillor_id>")
def councillor(slug: str, councillor_id: int) -> str:
    council = council_or_404(slug)
    session = db()
    found = councillors.get(session, council, councillor_id)
    if found is None:
        abort(404)
    return render_template(
        "councillors/councillor.html",
        council=council,
        c=found,
        attended=councillors.attended(session, found),
    )


def councillor_json(council: Council, c: Councillor) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "party": c.party,
        "ward": c.ward,
        "roles": list(c.roles),
        "current": c.left_at is None,
        "left_at": c.left_at.isoformat() if c.left_at else None,
        "url": url_for(
            "councillors.councillor", slug=council.slug, councillor_id=c.id, _external=True
        ),
    }


@api.bp.get("/councils/<slug>/councillors", endpoint="councillors")
def api_councillors(slug: str) -> Response:
    council = council_or_404(slug)
    session = db()
    current = [c for ward in councillors.current_by_ward(session, council).values() for c in ward]
    return jsonify(
        {
            "council": council.slug,
            "councillors": [councillor_json(council, c) for c in current],
            "former": [councillor_json(council, c) for c in councillors.former(session, council)],
        }
    )
