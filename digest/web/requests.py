"""/councils/<slug>/request and /requests/confirm: professional enablement requests (the
form, its confirmation link, and the thank-you)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from digest import professional_requests
from digest.models import Council, CouncilStatus
from digest.professional_requests import RequestForm, RequestFormError, RequestLinkUsed
from digest.subscriptions import LinkExpired, LinkProblem
from digest.web.context import db, origin, runtime
from digest.web.public import council_or_404
from digest.web.subscriptions import HONEYPOT_FIELD

bp = Blueprint("requests", __name__)

FIELDS = ("name", "organisation", "email", "reason")


@bp.route("/councils/<slug>/request", methods=["GET", "POST"])
def request_council(slug: str) -> BaseResponse | tuple[str, int]:
    council = council_or_404(slug)
    values = {field: request.form.get(field, "")[:4000] for field in FIELDS}
    if request.method == "GET" or council.status == CouncilStatus.ENABLED:
        return render_template("requests/form.html", council=council, values=values, errors={}), 200
    done = redirect(url_for(".request_sent", slug=slug), code=303)
    if request.form.get(HONEYPOT_FIELD):
        return done
    rt = runtime()
    session = db()
    try:
        professional_requests.submit(
            session,
            rt.mail,
            council=council,
            form=RequestForm(**values),
            now=rt.now(),
            origin=origin(),
        )
    except RequestFormError as exc:
        session.rollback()
        return render_template(
            "requests/form.html", council=council, values=values, errors=exc.errors
        ), 400
    session.commit()
    return done


@bp.get("/councils/<slug>/request/sent")
def request_sent(slug: str) -> str:
    return render_template("requests/sent.html", council=council_or_404(slug))


def _problem(problem: LinkProblem) -> tuple[str, int]:
    if isinstance(problem, RequestLinkUsed):
        council = db().get(Council, problem.request.council_id)
        return render_template("requests/link_problem.html", kind="used", council=council), 200
    if isinstance(problem, LinkExpired):
        return render_template("requests/link_problem.html", kind="expired", council=None), 410
    return render_template("requests/link_problem.html", kind="invalid", council=None), 404


@bp.get("/requests/confirm/<token>")
def confirm_page(token: str) -> tuple[str, int]:
    session = db()
    try:
        found = professional_requests.read_confirm_link(session, runtime().tokens, token)
    except LinkProblem as problem:
        return _problem(problem)
    council = session.get_one(Council, found.council_id)
    return render_template(
        "requests/confirm.html", council=council, token=token, request_row=found
    ), 200


@bp.post("/requests/confirm/<token>")
def confirm(token: str) -> BaseResponse | tuple[str, int]:
    rt = runtime()
    session = db()
    try:
        found = professional_requests.confirm(
            session,
            rt.mail,
            token=token,
            now=rt.now(),
            origin=origin(),
            subscribe=request.form.get("subscribe") == "yes",
        )
    except LinkProblem as problem:
        session.rollback()
        return _problem(problem)
    council = session.get_one(Council, found.council_id)
    session.commit()
    return redirect(url_for(".confirmed", slug=council.slug), code=303)


@bp.get("/councils/<slug>/request/confirmed")
def confirmed(slug: str) -> str:
    return render_template("requests/confirmed.html", council=council_or_404(slug))
