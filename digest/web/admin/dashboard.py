"""The dashboard, the demand queue and the audit trail."""

from __future__ import annotations

from flask import render_template

from digest import admins, demand, stats
from digest.web.admin import bp
from digest.web.context import db, runtime


@bp.get("/")
def dashboard() -> str:
    rt = runtime()
    overview = stats.overview(db(), rt.now(), rt.config.tz)
    beat_age = (
        (rt.now() - overview.scheduler_beat).total_seconds() if overview.scheduler_beat else None
    )
    return render_template(
        "admin/dashboard.html",
        o=overview,
        beat_age=beat_age,
        councils=stats.by_value(overview.councils),
        subscriptions=stats.by_value(overview.subscriptions),
        queue=stats.by_value(overview.delivery.queue),
    )


@bp.get("/queue")
def queue() -> str:
    rt = runtime()
    cfg = rt.config.demand
    ranked = [row for row in demand.ranking(db(), cfg.professional_weight) if row.position]
    return render_template(
        "admin/queue.html", rows=ranked, cfg=cfg, ready=lambda row: demand.is_ready(row, cfg)
    )


@bp.get("/audit")
def audit_trail() -> str:
    return render_template("admin/audit.html", actions=admins.recent_actions(db()))
