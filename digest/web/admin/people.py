"""Professional requests and subscriber look-up."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from digest import enablement, professional_requests, subscribers, subscriptions
from digest.addresses import InvalidEmail, normalise_email
from digest.models import (
    Council,
    CouncilStatus,
    EnablementRequest,
    RequestStatus,
    Subscriber,
)
from digest.web.admin import bp
from digest.web.admin.auth import audit, signed_in
from digest.web.admin.councils import collect_in_background
from digest.web.context import db, runtime


@bp.get("/requests")
def requests_list() -> str:
    rows = professional_requests.all_requests(db())
    waiting = [(r, c) for r, c in rows if r.status == RequestStatus.OPEN and r.confirmed_at]
    unconfirmed = [(r, c) for r, c in rows if r.status == RequestStatus.OPEN and not r.confirmed_at]
    decided = [(r, c) for r, c in rows if r.status != RequestStatus.OPEN]
    return render_template(
        "admin/requests.html", waiting=waiting, unconfirmed=unconfirmed, decided=decided
    )


@bp.post("/requests/<int:request_id>/decide")
def decide(request_id: int) -> BaseResponse:
    session = db()
    found = session.get(EnablementRequest, request_id)
    if found is None:
        abort(404)
    rt = runtime()
    note = request.form.get("note", "")[:2000]
    council = session.get_one(Council, found.council_id)
    newly_enabled = False
    if request.form.get("decision") == "approve":
        if council.status != CouncilStatus.ENABLED:
            # Approving switches the council on, which emails everyone waiting for it:
            # the same question as the Enable button first (its confirmed POST approves
            # every open request for the council and tells each requester).
            back = url_for("admin.requests_list")
            return redirect(url_for("admin.enable_confirm", slug=council.slug, back=back), 303)
        # The council is already on: approving tells the requester, nobody else.
        try:
            result = enablement.go_live(session, rt.mail, council, rt.now(), admin=signed_in())
        except enablement.EnablementError as exc:
            session.rollback()
            flash(f"Not approved: {exc}. Set its source address first.")
            return redirect(url_for("admin.requests_list"), code=303)
        newly_enabled = result.changed
        audit("request.approve", f"request {found.id} ({council.slug})", note)
        flash(
            f"Approved: {council.name} is enabled and {result.requests_approved} requester(s) told."
        )
    elif request.form.get("decision") == "decline":
        if professional_requests.decide(
            session, rt.mail, found, approve=False, admin=signed_in(), note=note, now=rt.now()
        ):
            audit("request.decline", f"request {found.id} ({council.slug})", note)
            flash("Declined; the requester has been told.")
        else:
            flash("That request was already decided.")
    else:
        abort(400)
    session.commit()
    if newly_enabled:
        collect_in_background(council.slug)
    return redirect(url_for("admin.requests_list"), code=303)


@bp.get("/subscribers")
def subscriber_lookup() -> str | tuple[str, int]:
    raw = request.args.get("email", "").strip()[:320]
    context: dict[str, object] = {"email": raw, "subscriber": None, "error": None}
    if raw:
        session = db()
        try:
            address = normalise_email(raw)
        except InvalidEmail as exc:
            context["error"] = str(exc)
            return render_template("admin/subscribers.html", **context), 400
        found = subscribers.look_up(session, runtime().config.site.secret_key, address)
        context.update(
            suppression=found.suppression,
            subscriber=found.subscriber,
            rows=found.subscriptions,
            consent=found.consent,
            messages=found.messages,
            bounces=found.bounces,
        )
    return render_template("admin/subscribers.html", **context)


@bp.post("/subscribers/<int:subscriber_id>/erase")
def erase_subscriber(subscriber_id: int) -> BaseResponse:
    session = db()
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        abort(404)
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm the erasure.")
        return redirect(url_for("admin.subscriber_lookup", email=subscriber.email), code=303)
    rt = runtime()
    subscriptions.erase(
        session, subscriber_id=subscriber_id, now=rt.now(), secret_key=rt.config.site.secret_key
    )
    # The audit trail keeps the id, never the address: it must not outlive the erasure.
    audit("subscriber.erase", f"subscriber {subscriber_id}")
    session.commit()
    flash(
        "All data about that subscriber has been erased. A keyed hash of the address is "
        "kept: it stays suppressed if it bounced or complained."
    )
    return redirect(url_for("admin.subscriber_lookup"), code=303)
