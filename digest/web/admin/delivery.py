"""Delivery: sign-ups waiting, queue depth, sent and failed by week, recent failures,
suppressions."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from digest import intake, stats
from digest.mail import pauses
from digest.mail import stats as mail_stats
from digest.web.admin import bp
from digest.web.admin.auth import audit
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
        about_us=mail_stats.recent_about_us(session),
        suppression_counts=stats.suppressions_by_reason(session),
        suppressions=stats.recent_suppressions(session),
        stopped=pauses.stopped_until(session, rt.now()),
        signups=intake.waiting(session),
        stuck_signups=intake.stuck(session),
    )


@bp.post("/delivery/signups/retry")
def retry_signups() -> Response:
    retried = intake.retry_stuck(db())
    audit("signups.retry", "", f"{retried} sign-ups")
    db().commit()
    flash(f"{retried} sign-ups will be tried again by the delivery loop.")
    return redirect(url_for("admin.delivery"), code=303)


@bp.post("/delivery/resume")
def resume_sending() -> Response:
    if pauses.resume_everything(db(), runtime().now()):
        audit("sending.resume")
        db().commit()
        flash("Sending resumes with the next delivery round.")
    else:
        flash("Sending was not stopped.")
    return redirect(url_for("admin.delivery"), code=303)
