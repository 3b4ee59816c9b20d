"""Subscribing, confirming, unsubscribing and managing a subscription.

All state changes are POSTs. The one-click unsubscribe POST is exempt from CSRF because
mailbox providers send it with no cookies (RFC 8058); its signed URL authorises it.
"""

from __future__ import annotations

import json
from typing import NoReturn

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from digest import councils, subscribers, subscriptions, watches
from digest.addresses import InvalidEmail, normalise_email
from digest.models import (
    Council,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)
from digest.subscriptions import LinkExpired, LinkProblem, LinkUsed, signup
from digest.topics import taxonomy, valid_selection
from digest.web.context import db, origin, runtime
from digest.web.public import council_ids, council_or_404, render_council

bp = Blueprint("subscriptions", __name__)

HONEYPOT_FIELD = "website"


@bp.post("/councils/<slug>/subscribe")
def subscribe(slug: str) -> BaseResponse | tuple[str, int]:
    """Check the form and accept the sign-up with one INSERT; the delivery loop acts on
    it moments later (digest.subscriptions.signup). The answer is the same whatever happens next."""
    rt = runtime()
    council_id = council_ids().get(slug)
    if council_id is None:
        abort(404)
    done = redirect(url_for(".check_email", slug=slug), code=303)
    if request.form.get(HONEYPOT_FIELD):
        # Bots fill every field; people never see this one. Same answer, nothing stored.
        return done
    email = request.form.get("email", "")
    try:
        address = normalise_email(email)
    except InvalidEmail as exc:
        return render_council(council_or_404(slug), email=email[:254], error=str(exc), status=400)
    with rt.single_statement_sessions.begin() as session:
        signup.accept(
            session, council_id=council_id, address=address, now=rt.now(), origin=origin()
        )
    return done


@bp.get("/councils/<slug>/subscribe")
def subscribe_form(slug: str) -> BaseResponse:
    council_or_404(slug)
    return redirect(url_for("public.council", slug=slug, _anchor="subscribe"))


@bp.get("/councils/<slug>/check-email")
def check_email(slug: str) -> str:
    return render_template("subscriptions/check_email.html", council=council_or_404(slug))


def _link_problem(problem: LinkProblem) -> tuple[str, int]:
    if isinstance(problem, LinkUsed):
        council = db().get(Council, problem.subscription.council_id)
        return render_template("subscriptions/link_problem.html", kind="used", council=council), 200
    if isinstance(problem, LinkExpired):
        return render_template("subscriptions/link_problem.html", kind="expired", council=None), 410
    return render_template("subscriptions/link_problem.html", kind="invalid", council=None), 404


@bp.get("/confirm/<token>")
def confirm_page(token: str) -> tuple[str, int]:
    session = db()
    try:
        subscription = subscriptions.read_confirm_link(session, runtime().tokens, token)
    except LinkProblem as problem:
        return _link_problem(problem)
    council = session.get_one(Council, subscription.council_id)
    subscriber = session.get_one(Subscriber, subscription.subscriber_id)
    return render_template(
        "subscriptions/confirm.html", council=council, token=token, email=subscriber.email
    ), 200


@bp.post("/confirm/<token>")
def confirm(token: str) -> BaseResponse | tuple[str, int]:
    rt = runtime()
    session = db()
    try:
        subscription = subscriptions.confirm(
            session, rt.mail, token=token, now=rt.now(), origin=origin()
        )
    except LinkProblem as problem:
        session.rollback()
        return _link_problem(problem)
    council = session.get_one(Council, subscription.council_id)
    session.commit()
    return redirect(url_for(".confirmed", slug=council.slug), code=303)


@bp.get("/councils/<slug>/subscribed")
def confirmed(slug: str) -> str:
    return render_template("subscriptions/confirmed.html", council=council_or_404(slug))


def _unsubscribe_target(token: str) -> Subscription | None:
    """The subscription the link is for; None when it is gone (404 for links not ours)."""
    try:
        return subscriptions.read_unsubscribe_link(db(), runtime().tokens, token)
    except LinkProblem:
        _link_not_valid()


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> str:
    found = _unsubscribe_target(token)
    session = db()
    council = session.get(Council, found.council_id) if found else None
    return render_template(
        "subscriptions/unsubscribe.html", token=token, council=council, subscription=found
    )


@bp.post("/unsubscribe/<token>")
def unsubscribe(token: str) -> tuple[str, int]:
    """RFC 8058 one-click: no cookies, no CSRF, 200 with no redirect, idempotent.

    Whoever performs this POST (often the mailbox provider) reads the answer, so it
    carries no link to the manage page: that would hand them export and erasure."""
    target = _unsubscribe_target(token)
    rt = runtime()
    session = db()
    found = (
        subscriptions.unsubscribe(
            session,
            subscription_id=target.id,
            now=rt.now(),
            origin=origin(),
            secret_key=rt.config.site.secret_key,
        )
        if target is not None
        else None
    )
    council = session.get(Council, found.council_id) if found else None
    session.commit()
    return render_template("subscriptions/unsubscribed.html", council=council), 200


def _subscriber_from_token(token: str) -> Subscriber:
    try:
        return subscriptions.read_manage_link(db(), runtime().tokens, token)
    except LinkProblem:
        _link_not_valid()


def _link_not_valid() -> NoReturn:
    """A garbled or outdated unsubscribe or manage link: say so and offer a new link by
    email, instead of a bare "Page not found"."""
    abort(make_response(render_template("subscriptions/new_link.html", email=""), 404))


@bp.get("/manage-link")
def new_link_form() -> str:
    return render_template("subscriptions/new_link.html", email="")


@bp.post("/manage-link")
def new_link() -> tuple[str, int]:
    """The same answer whatever the address's state, so the form tells nobody who
    subscribes; a known address gets a fresh manage link through the outbox."""
    email = request.form.get("email", "")
    rt = runtime()
    session = db()
    try:
        subscriptions.send_manage_link(session, rt.mail, email=email, now=rt.now())
    except InvalidEmail as exc:
        page = render_template("subscriptions/new_link.html", email=email[:254], error=str(exc))
        return page, 400
    session.commit()
    return render_template("subscriptions/new_link.html", sent=True), 200


def _render_manage(
    subscriber: Subscriber, token: str, status: int = 200, **extra: object
) -> tuple[str, int]:
    session = db()
    rows = subscriptions.subscriptions_of(session, subscriber.id)
    active = {c.id for s, c in rows if s.status == SubscriptionStatus.ACTIVE}
    others = [c for c in councils.search(session) if c.id not in active]
    links = runtime().links
    return render_template(
        "subscriptions/manage.html",
        subscriber=subscriber,
        rows=rows,
        token=token,
        others=others,
        all_topics=taxonomy().topics,
        watches=[(w, links.watch_manage(w.id)) for w in watches.watches_of(session, subscriber.id)],
        **extra,
    ), status


@bp.get("/manage/<token>")
def manage(token: str) -> tuple[str, int]:
    return _render_manage(_subscriber_from_token(token), token)


@bp.post("/manage/<token>/add")
def manage_add(token: str) -> BaseResponse:
    """Add a council for someone who reached us through a link in their email (their
    address is proven), so no second confirmation is needed."""
    subscriber = _subscriber_from_token(token)
    session = db()
    chosen = request.form.get("council", "")[:80]
    if not chosen:
        # Nothing is preselected, so a stray tap subscribes no one to anything.
        flash("Choose a council to add, then press Subscribe.")
        return redirect(url_for(".manage", token=token), code=303)
    council = councils.get_by_slug(session, chosen)
    if council is None:
        abort(400)
    rt = runtime()
    subscriptions.add_confirmed(
        session,
        rt.mail,
        council=council,
        email=subscriber.email,
        now=rt.now(),
        origin=origin(),
        kind=subscribers.kind_for_added_council(session, subscriber.id),
    )
    session.commit()
    flash(f"You are now subscribed to {council.name}.")
    return redirect(url_for(".manage", token=token), code=303)


@bp.post("/manage/<token>/unsubscribe")
def manage_unsubscribe(token: str) -> BaseResponse:
    subscriber = _subscriber_from_token(token)
    rt = runtime()
    session = db()
    target = request.form.get("subscription", "")
    secret = rt.config.site.secret_key
    if target == "all":
        subscriptions.unsubscribe_all(
            session, subscriber_id=subscriber.id, now=rt.now(), origin=origin(), secret_key=secret
        )
        flash("You are unsubscribed from everything. You will not get any more digests.")
    else:
        owned = {s.id: c for s, c in subscriptions.subscriptions_of(session, subscriber.id)}
        if not target.isdigit() or int(target) not in owned:
            abort(400)
        subscriptions.unsubscribe(
            session, subscription_id=int(target), now=rt.now(), origin=origin(), secret_key=secret
        )
        flash(f"You are unsubscribed from {owned[int(target)].name}.")
    session.commit()
    return redirect(url_for(".manage", token=token), code=303)


@bp.post("/manage/<token>/topics")
def manage_topics(token: str) -> BaseResponse:
    """Choose the topics of one subscription's digest: all (the default) or some."""
    subscriber = _subscriber_from_token(token)
    session = db()
    target = request.form.get("subscription", "")
    owned = {s.id: (s, c) for s, c in subscriptions.subscriptions_of(session, subscriber.id)}
    if not target.isdigit() or int(target) not in owned:
        abort(400)
    subscription, council = owned[int(target)]
    chosen = valid_selection(request.form.getlist("topics"))
    if request.form.get("choice") == "all" or not chosen:
        subscription.topics = []
        flash(f"Your {council.name} digest has every topic.")
    else:
        subscription.topics = chosen
        names = ", ".join(taxonomy().title(s) for s in chosen)
        flash(f"Your {council.name} digest now holds only: {names}.")
    session.commit()
    return redirect(url_for(".manage", token=token), code=303)


@bp.post("/manage/<token>/export")
def manage_export(token: str) -> Response:
    subscriber = _subscriber_from_token(token)
    data = subscriptions.export(db(), subscriber.id)
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="council-digest-my-data.json"'},
    )


@bp.post("/manage/<token>/erase")
def manage_erase(token: str) -> BaseResponse | tuple[str, int]:
    subscriber = _subscriber_from_token(token)
    if request.form.get("confirm") != "yes":
        return _render_manage(subscriber, token, 400, erase_error=True)
    rt = runtime()
    session = db()
    subscriptions.erase(
        session, subscriber_id=subscriber.id, now=rt.now(), secret_key=rt.config.site.secret_key
    )
    session.commit()
    return redirect(url_for(".erased"), code=303)


@bp.get("/manage/erased")
def erased() -> str:
    return render_template("subscriptions/erased.html")
