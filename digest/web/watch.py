"""Topic watches on the web: the form, double opt-in, manage page and one-click
unsubscribe (SPEC §12.3). The form has the subscribe form's protections: CSRF, a honeypot,
per-IP and per-address rate limits, and the same answer whatever the address's state.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from digest import councils, watch_requests, watches
from digest.addresses import InvalidEmail, ip_hash, normalise_email
from digest.models import Council, Subscriber, SubscriptionStatus, Watch
from digest.subscriptions import LinkProblem, read_nonce_link
from digest.tokens import Purpose, TokenError
from digest.topics import taxonomy
from digest.web.context import db, origin, runtime

bp = Blueprint("watch", __name__)

HONEYPOT_FIELD = "website"


def _councils() -> list[Council]:
    return councils.enabled(db(), by_name=True)


def _render_form(status: int = 200, **values: object) -> tuple[str, int]:
    rt = runtime()
    defaults: dict[str, object] = {
        "chosen_topics": [],
        "chosen_councils": [],
        "keywords": "",
        "frequency": "weekly",
        "email": "",
        "error": None,
    }
    defaults.update(values)
    return render_template(
        "watch/form.html",
        topics=taxonomy().topics,
        councils=_councils(),
        max_keywords=rt.config.watch.max_keywords,
        **defaults,
    ), status


@bp.get("/watch")
def form() -> tuple[str, int]:
    slugs = {c.slug for c in _councils()}
    return _render_form(
        chosen_topics=[t for t in request.args.getlist("topics") if taxonomy().get(t)],
        chosen_councils=[c for c in request.args.getlist("council") if c in slugs],
    )


@bp.post("/watch")
def submit() -> BaseResponse | tuple[str, int]:
    rt = runtime()
    done = redirect(url_for(".check_email"), code=303)
    if request.form.get(HONEYPOT_FIELD):
        return done  # bots fill every field; same answer, nothing stored
    topics = [t for t in request.form.getlist("topics") if taxonomy().get(t)]
    council_slugs = request.form.getlist("councils")[:400]
    keywords_raw = request.form.get("keywords", "")[:2000]
    frequency = request.form.get("frequency", "weekly")
    email = request.form.get("email", "")
    values = {
        "chosen_topics": topics,
        "chosen_councils": council_slugs,
        "keywords": keywords_raw,
        "frequency": frequency if frequency in watches.FREQUENCIES else "weekly",
        "email": email[:254],
    }
    if frequency not in watches.FREQUENCIES:
        return _render_form(400, error="Choose daily or weekly.", **values)
    try:
        keywords = watch_requests.parse_keywords(keywords_raw, rt.config.watch.max_keywords)
        watch_requests.check_watch(topics, keywords)
        address = normalise_email(email)
    except (watch_requests.WatchInputError, InvalidEmail) as exc:
        return _render_form(400, error=str(exc), **values)
    session = db()
    council_ids: list[int] = []
    if council_slugs and "all" not in council_slugs:
        found = councils.enabled_ids(session, council_slugs)
        if len(found) != len(set(council_slugs)):
            return _render_form(400, error="Choose councils from the list.", **values)
        council_ids = sorted(found.values())
    config = rt.config
    who = origin()
    watch_requests.request_watch(
        session,
        email=address,
        topics=topics,
        keywords=keywords,
        council_ids=council_ids,
        frequency=frequency,
        now=rt.now(),
        ip_hash=ip_hash(config.site.secret_key, who.ip) if who.ip else "",
        links=rt.links,
        mail_context=rt.site.mail_context(),
        secret_key=config.site.secret_key,
        domain=rt.site.domain,
    )
    session.commit()
    return done


@bp.get("/watch/check-email")
def check_email() -> str:
    return render_template("watch/check_email.html")


def _confirm_payload(token: str) -> tuple[int, str] | None:
    """(watch id, nonce) from a confirmation link, or None for any link we cannot use."""
    try:
        return read_nonce_link(runtime().tokens, Purpose.WATCH_CONFIRM, token)
    except LinkProblem:
        return None


@bp.get("/watch/confirm/<token>")
def confirm_page(token: str) -> tuple[str, int]:
    payload = _confirm_payload(token)
    watch = db().get(Watch, payload[0]) if payload else None
    if watch is None:
        return render_template("watch/link_problem.html", kind="invalid"), 404
    if watch.status != SubscriptionStatus.PENDING:
        return render_template("watch/link_problem.html", kind="used"), 200
    return render_template(
        "watch/confirm.html", token=token, watch=watch_requests.describe(db(), watch)
    ), 200


@bp.post("/watch/confirm/<token>")
def confirm(token: str) -> BaseResponse | tuple[str, int]:
    rt = runtime()
    payload = _confirm_payload(token)
    if payload is None:
        return render_template("watch/link_problem.html", kind="invalid"), 404
    session = db()
    try:
        watch = watch_requests.confirm(
            session, payload[0], payload[1], rt.now(), rt.config.site.secret_key
        )
    except watch_requests.WatchLinkProblem as problem:
        session.rollback()
        return render_template("watch/link_problem.html", kind=problem.kind), (
            200 if problem.kind == "used" else 404
        )
    session.commit()
    return redirect(rt.links.watch_manage(watch.id) + "?confirmed=1", code=303)


def _watch_from(purpose: Purpose, token: str) -> int:
    try:
        payload = runtime().tokens.read(purpose, token)
    except TokenError:
        abort(404)
    if not isinstance(payload, int):
        abort(404)
    return payload


@bp.get("/watch/unsubscribe/<token>")
def unsubscribe_page(token: str) -> str:
    watch = db().get(Watch, _watch_from(Purpose.WATCH_UNSUBSCRIBE, token))
    return render_template("watch/unsubscribe.html", token=token, watch=watch)


@bp.post("/watch/unsubscribe/<token>")
def unsubscribe(token: str) -> tuple[str, int]:
    """RFC 8058 one-click: no cookies, no CSRF, 200 with no redirect, idempotent."""
    watch_id = _watch_from(Purpose.WATCH_UNSUBSCRIBE, token)
    session = db()
    watches.unsubscribe(session, watch_id, runtime().now())
    session.commit()
    return render_template("watch/unsubscribed.html"), 200


@bp.get("/watch/manage/<token>")
def manage(token: str) -> str:
    session = db()
    watch = session.get(Watch, _watch_from(Purpose.WATCH_MANAGE, token))
    if watch is None:
        abort(404)
    subscriber = session.get_one(Subscriber, watch.subscriber_id)
    return render_template(
        "watch/manage.html",
        token=token,
        watch=watch,
        about=watch_requests.describe(session, watch),
        email=subscriber.email,
        confirmed=request.args.get("confirmed") == "1",
        unsubscribe_token=runtime().tokens.make(Purpose.WATCH_UNSUBSCRIBE, watch.id),
    )


@bp.post("/watch/manage/<token>")
def manage_change(token: str) -> BaseResponse:
    session = db()
    watch = session.get(Watch, _watch_from(Purpose.WATCH_MANAGE, token))
    if watch is None:
        abort(404)
    frequency = request.form.get("frequency", "")
    if frequency not in watches.FREQUENCIES:
        abort(400)
    watch.frequency = frequency
    session.commit()
    flash(f"Your watch is now sent {frequency}.")
    return redirect(url_for(".manage", token=token), code=303)
