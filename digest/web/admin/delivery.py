"""Delivery: sign-ups waiting, queue depth, sent and failed by week, recent failures,
suppressions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from digest import stats
from digest.mail import outbox, pauses
from digest.mail import stats as mail_stats
from digest.subscriptions import signup
from digest.web.admin import bp
from digest.web.admin.auth import audit
from digest.web.context import db, runtime


@bp.get("/delivery")
def delivery() -> str:
    rt = runtime()
    session = db()
    since = _since(request.args.get("since", "")) or rt.now() - timedelta(days=1)
    return render_template(
        "admin/delivery.html",
        requeue_since=since,
        requeue_since_local=since.astimezone(rt.config.tz).strftime("%Y-%m-%dT%H:%M"),
        failed_reasons=outbox.failed_since(session, since),
        counts=mail_stats.counts(session, now=rt.now(), since=rt.site.week_start(rt.now())),
        weeks=stats.delivery_weeks(session, now=rt.now(), tz=rt.site.tz),
        failures=stats.recent_failures(session),
        about_us=mail_stats.recent_about_us(session),
        suppression_counts=stats.suppressions_by_reason(session),
        suppressions=stats.recent_suppressions(session),
        stopped=pauses.stopped_until(session, rt.now()),
        signups=signup.waiting(session),
        stuck_signups=signup.stuck(session),
    )


@bp.post("/delivery/signups/retry")
def retry_signups() -> Response:
    retried = signup.retry_stuck(db())
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


def _since(value: str) -> datetime | None:
    """A datetime-local field's value (site time zone) as UTC; None if empty or bad."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=runtime().config.tz)
    return moment.astimezone(UTC)


@bp.post("/delivery/requeue")
def requeue_failed() -> Response:
    since = _since(request.form.get("since", ""))
    if since is None:
        flash("Give the time from which failed messages should be tried again.")
        return redirect(url_for("admin.delivery"), code=303)
    requeued = outbox.requeue_failed(db(), since=since, now=runtime().now())
    audit("outbox.requeue_failed", since.isoformat(), f"{requeued} messages")
    db().commit()
    flash(f"{requeued} failed messages will be sent again by the delivery loop.")
    return redirect(url_for("admin.delivery", since=request.form.get("since", "")), code=303)
