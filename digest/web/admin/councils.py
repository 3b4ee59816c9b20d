"""Councils: status, source address, collection health, enable and pause."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from digest import councils, enablement
from digest.collector import health
from digest.collector.http_client import Fetcher
from digest.collector.probe import probe_site
from digest.collector.probe import record as record_probe
from digest.documents import extract as extraction
from digest.models import CouncilStatus, CouncilSystem
from digest.web.admin import bp
from digest.web.admin.auth import audit, safe_admin_path, signed_in
from digest.web.context import db, runtime
from digest.web.public import council_or_404
from jobs import tasks

_council = council_or_404


@bp.get("/councils")
def council_list() -> str:
    status_arg = request.args.get("status")
    if status_arg is None:
        # Open on the councils being collected when there are any, else on all of them
        # (a fresh install has none enabled: an empty list told nothing).
        any_enabled = councils.counts_by_status(db())[CouncilStatus.ENABLED] > 0
        status_arg = "enabled" if any_enabled else "all"
    status = CouncilStatus(status_arg) if status_arg in set(CouncilStatus) else None
    query = request.args.get("q", "")[:100]
    found = councils.search(db(), query, status)
    return render_template(
        "admin/councils.html",
        councils=found,
        status=status,
        query=query,
        statuses=list(CouncilStatus),
        now=runtime().now(),
    )


@bp.get("/councils/<slug>")
def council_detail(slug: str) -> str:
    council = _council(slug)
    return render_template(
        "admin/council.html",
        council=council,
        now=runtime().now(),
        document_problems=extraction.problems_of(db(), council.id),
        documents_waiting=extraction.waiting_of(db(), council.id),
        meeting_failures=health.meeting_failures(db(), council.id),
        systems=[s.value for s in CouncilSystem],
    )


@bp.get("/councils/<slug>/enable")
def enable_confirm(slug: str) -> str:
    """Enabling emails everyone waiting: say how many, and ask first."""
    council = _council(slug)
    back = safe_admin_path(request.args.get("back"), url_for("admin.council_detail", slug=slug))
    return render_template(
        "admin/enable.html",
        council=council,
        preview=enablement.preview(db(), council),
        back=back,
    )


@bp.post("/councils/<slug>/enable")
def enable(slug: str) -> BaseResponse:
    council = _council(slug)
    if request.form.get("confirm") != "yes":
        # Only the confirmation page's form enables: a stray or replayed POST from an
        # Enable button asks first rather than emailing everyone waiting.
        return redirect(
            url_for("admin.enable_confirm", slug=slug, back=request.form.get("back")), code=303
        )
    rt = runtime()
    try:
        result = enablement.go_live(db(), rt.mail, council, rt.now(), admin=signed_in())
    except enablement.EnablementError as exc:
        db().rollback()
        flash(f"Not enabled: {exc}.")
        return redirect(url_for("admin.council_detail", slug=slug), code=303)
    audit(
        "council.enable",
        council.slug,
        f"{result.notified} subscribers told, {result.requests_approved} requests approved"
        if result.changed
        else "already enabled",
    )
    db().commit()
    if result.changed:
        collect_in_background(council.slug)
    flash(
        f"{council.name} is enabled." if result.changed else f"{council.name} was already enabled."
    )
    here = url_for("admin.council_detail", slug=slug)
    return redirect(safe_admin_path(request.form.get("back"), here), code=303)


@bp.post("/councils/<slug>/pause")
def pause(slug: str) -> BaseResponse:
    council = _council(slug)
    if enablement.pause(db(), council, runtime().now()):
        audit("council.pause", council.slug)
        db().commit()
        flash(f"{council.name} is paused: no collection and no digests until re-enabled.")
    else:
        flash(f"{council.name} is not enabled, so it cannot be paused.")
    return redirect(url_for("admin.council_detail", slug=slug), code=303)


@bp.post("/councils/<slug>/base-url")
def set_base_url(slug: str) -> BaseResponse:
    """The council's source: its base URL and (when the form sends one) its system."""
    council = _council(slug)
    value = request.form.get("base_url", "").strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 300:
        flash("Enter the full address of the council's democracy website, starting https://")
        return redirect(url_for("admin.council_detail", slug=slug), code=303)
    system_arg = request.form.get("system")
    if system_arg is not None and system_arg not in set(CouncilSystem):
        flash("Choose one of the systems listed.")
        return redirect(url_for("admin.council_detail", slug=slug), code=303)
    old = council.base_url
    moved = councils.set_base_url(council, value, runtime().now())
    audit("council.base_url", council.slug, f"{old or '(none)'} -> {value}")
    if system_arg is not None and system_arg != council.system.value:
        was = council.system.value
        council.system = CouncilSystem(system_arg)
        council.system_source = "admin"  # an import of the council list keeps it
        audit("council.system", council.slug, f"{was} -> {system_arg}")
    db().commit()
    if moved and council.status == CouncilStatus.ENABLED:
        # The collection error on the page was about the old address: read the new one
        # now rather than leave it standing until the next scheduled collection.
        collect_in_background(council.slug)
        flash("Source saved. Collecting from the new address now; refresh in a minute.")
    else:
        flash("Source saved.")
    return redirect(url_for("admin.council_detail", slug=slug), code=303)


def collect_in_background(slug: str) -> None:
    """Collect a council after the response has gone: a council's first collection can
    take minutes with a polite per-host interval."""
    rt = runtime()
    rt.in_background(lambda: tasks.collect_councils(rt, [slug]))


@bp.post("/councils/<slug>/probe")
def probe(slug: str) -> BaseResponse:
    council = _council(slug)
    rt = runtime()
    # One request to the council's site, outside any transaction.
    result = probe_site(
        Fetcher(rt.config.collector),
        council.base_url,
        rt.site.today(rt.now()),
        council.system,
    )
    record_probe(council, result, rt.now())
    audit("council.probe", council.slug, result.message)
    db().commit()
    flash(
        f"Probe {'succeeded' if result.ok else 'failed'}: {result.message}."
        + (f" System: {council.system.value}." if result.system else "")
    )
    return redirect(url_for("admin.council_detail", slug=slug), code=303)


@bp.post("/councils/<slug>/collect")
def collect_now(slug: str) -> BaseResponse:
    council = _council(slug)
    if council.status != CouncilStatus.ENABLED:
        flash(f"{council.name} is not enabled, so it is not collected.")
        return redirect(url_for("admin.council_detail", slug=slug), code=303)
    audit("council.collect", council.slug)
    db().commit()
    collect_in_background(council.slug)
    flash(f"Collecting {council.name} now; refresh this page in a minute to see the result.")
    return redirect(url_for("admin.council_detail", slug=slug), code=303)
