"""The web archive of weekly digests, and the latest one on a council's page."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, render_template
from markupsafe import Markup

from digest.models import Council, Digest
from digest.web.context import db
from digest.web.public import council_or_404
from digest.weekly.render import header_line
from digest.weekly.weeks import InvalidWeek, IsoWeek, date_range_text

bp = Blueprint("digests", __name__)
ARCHIVE_LIMIT = 260  # five years of weeks


def latest_digest(council: Council) -> Digest | None:
    return db().scalar(
        sa.select(Digest)
        .where(Digest.council_id == council.id, Digest.topics == "", Digest.is_quiet.is_(False))
        .order_by(Digest.week.desc())
        .limit(1)
    )


def week_text(label: str) -> str:
    week = IsoWeek.parse(label)
    return date_range_text(week.monday, week.sunday)


def summary_line(digest: Digest) -> str:
    keys = ("reported", "decisions", "cancelled", "minutes", "upcoming")
    return header_line({key: int(digest.counts.get(key, 0)) for key in keys})


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {
        "latest_digest": latest_digest,
        "digest_week_text": week_text,
        "digest_summary_line": summary_line,
    }


def council_digests(council: Council, limit: int) -> list[Digest]:
    """A council's digests, newest week first (the web archive and the JSON API)."""
    return list(
        db().scalars(
            sa.select(Digest)
            .where(Digest.council_id == council.id, Digest.topics == "")
            .order_by(Digest.week.desc())
            .limit(limit)
        )
    )


def digest_or_404(council: Council, week: str) -> Digest:
    """The council's digest for an ISO week label such as 2026-W47."""
    try:
        label = IsoWeek.parse(week).label
    except InvalidWeek:
        abort(404)
    digest = db().scalar(
        sa.select(Digest).where(
            Digest.council_id == council.id, Digest.topics == "", Digest.week == label
        )
    )
    if digest is None:
        abort(404)
    return digest


@bp.get("/councils/<slug>/digests")
def archive(slug: str) -> str:
    council = council_or_404(slug)
    return render_template(
        "digests/archive.html", council=council, digests=council_digests(council, ARCHIVE_LIMIT)
    )


@bp.get("/councils/<slug>/digests/<week>")
def week(slug: str, week: str) -> str:
    council = council_or_404(slug)
    digest = digest_or_404(council, week)
    # web_html is our own template's output, rendered with autoescape when the digest was
    # built (council text in it is already escaped), so it is inserted as markup.
    content = Markup(digest.web_html)  # noqa: S704
    return render_template("digests/week.html", council=council, digest=digest, content=content)
