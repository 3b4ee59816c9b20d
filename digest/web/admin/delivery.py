"""Delivery: queue depth, sent and failed by week, recent failures, suppressions."""

from __future__ import annotations

from flask import render_template

from digest import stats
from digest.mail import stats as mail_stats
from digest.web.admin import bp
from digest.web.context import db, runtime


@bp.get("/delivery")
def delivery() -> str:
    rt = runtime()
    session = db()
    return render_template(
        "admin/delivery.html",
        counts=mail_stats.counts(
            session, now=rt.now(), since=stats.week_start(rt.now(), rt.config.tz)
        ),
        weeks=mail_stats.weekly(session, now=rt.now()),
        failures=stats.recent_failures(session),
        suppression_counts=stats.suppressions_by_reason(session),
        suppressions=stats.recent_suppressions(session),
    )
