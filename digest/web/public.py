"""Public pages: home, the council directory, a council's page, the waitlist."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from digest import councillors, councils, demand, meetings, stats
from digest.consent import wording_for
from digest.lookup import finder
from digest.lookup.postcodes import normalise
from digest.models import (
    Council,
    Councillor,
    CouncilStatus,
)
from digest.web.context import db, runtime
from digest.web.page_cache import CSRF_PLACEHOLDER, cached, csrf_placeholder

bp = Blueprint("public", __name__)


def ranked() -> list[demand.Demand]:
    """The demand ranking, shared by public pages for [web] public_cache_seconds."""
    rt = runtime()
    return demand.ranked(db(), rt.config.demand.professional_weight, rt.figures)


def council_ids() -> dict[str, int]:
    """Council ids by slug, for forms that need only the id: read once per
    [web] public_cache_seconds, outside any write transaction."""
    rt = runtime()

    def load() -> dict[str, int]:
        with rt.read_sessions() as session:
            return councils.ids_by_slug(session)

    return cached("council-ids", load)


def council_or_404(slug: str) -> Council:
    council = councils.get_by_slug(db(), slug)
    if council is None:
        abort(404)
    return council


@bp.get("/")
def home() -> str:
    session = db()
    counts = councils.counts_by_status(session)
    subscribers = stats.active_subscribers(session)
    rt = runtime()
    top = [row for row in ranked() if row.position is not None][:5]
    return render_template(
        "public/home.html",
        enabled=counts[CouncilStatus.ENABLED],
        subscribers=subscribers,
        total=sum(counts.values()),
        top=top,
        threshold=rt.config.demand.public_threshold,
        bucket=demand.bucket,
    )


LETTER_PAGES_FROM = 60  # more councils than this (and no search): one letter per page
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@bp.get("/councils")
def council_list() -> str | Response | tuple[str, int]:
    """Councils by name, town or postcode (SPEC §12.4); one match goes straight to it."""
    query = request.args.get("q", "")[:100].strip()
    status_arg = request.args.get("status", "")
    status = CouncilStatus(status_arg) if status_arg in set(CouncilStatus) else None
    rt = runtime()
    found = finder.find(db(), rt, query, status, rt.now())
    if len(found.councils) == 1 and query and found.error is None:
        target = found.councils[0]
        if found.postcode:
            return redirect(url_for("public.council", slug=target.slug, postcode=found.postcode))
        return redirect(url_for("public.council", slug=target.slug))
    # A long list without a search is shown a letter at a time (one 382-row table was
    # 29,000 px tall on a phone); "all" keeps the whole list a link away.
    letters = councils.by_letter(found.councils) if not query else {}
    letter = request.args.get("letter", "").upper()[:3]
    shown = found.councils
    if letters and len(found.councils) > LETTER_PAGES_FROM:
        if letter != "ALL":
            letter = letter if letter in letters else next(iter(letters))
            shown = letters[letter]
    else:
        letters, letter = {}, ""
    threshold = rt.config.demand.public_threshold
    waiting = {row.council.id: demand.bucket(row.subscribers, threshold) for row in ranked()}
    html = render_template(
        "public/councils.html",
        councils=shown,
        total=len(found.councils),
        letters=letters,
        letter=letter,
        alphabet=[*ALPHABET, *(k for k in letters if k not in ALPHABET)],
        waiting=waiting,
        reasons=found.reasons,
        found=found,
        query=query,
        status=status,
        statuses=list(CouncilStatus),
    )
    return html, 400 if found.invalid else 200


@bp.get("/councils/<slug>")
def council(slug: str) -> tuple[str, int]:
    """The most visited page. Its HTML is reused for [web] public_cache_seconds with only
    the visitor's CSRF token put in; a page carrying flash messages is always fresh."""
    postcode = normalise(request.args.get("postcode", "")[:20])
    if session.get("_flashes") or postcode:
        return render_council(council_or_404(slug), postcode=postcode)

    def build() -> str:
        with csrf_placeholder():
            return render_council(council_or_404(slug))[0]

    page = cached(("council-page", slug), build)
    return page.replace(CSRF_PLACEHOLDER, generate_csrf()), 200


def ward_councillors(council: Council, postcode: str | None) -> list[Councillor] | None:
    """After a postcode search: the councillors of that postcode's ward, from the
    council's own site (cached like postcode answers); None when unknown."""
    rt = runtime()
    if postcode is None or council.status != CouncilStatus.ENABLED:
        return None
    return councillors.for_postcode(
        rt.sessions,
        council,
        postcode,
        rt.postcodes.fetcher,
        rt.now(),
        timedelta(hours=rt.config.lookup.cache_hours),
    )


def render_council(
    council: Council,
    *,
    email: str = "",
    error: str | None = None,
    status: int = 200,
    postcode: str | None = None,
) -> tuple[str, int]:
    session = db()
    rt = runtime()
    position = waiting = None
    if council.status == CouncilStatus.WAITLIST:
        row = demand.find(ranked(), council.id)
        if row is not None:
            position, waiting = row.position, row.subscribers
    lists = meetings.recent_and_upcoming(session, council, rt.now(), rt.site.tz)
    html = render_template(
        "public/council.html",
        council=council,
        position=position,
        waiting_bucket=demand.bucket(waiting or 0, rt.config.demand.public_threshold),
        lists=lists,
        stale=council.is_stale(rt.now()),
        consent_text=wording_for(council.name),
        email=email,
        error=error,
        now=rt.now(),
        postcode=postcode,
        ward=ward_councillors(council, postcode),
    )
    return html, status


@bp.get("/waitlist")
def waitlist() -> str:
    rt = runtime()
    threshold = rt.config.demand.public_threshold
    ranking = ranked()
    rows = [row for row in ranking if row.position is not None]
    return render_template(
        "public/waitlist.html",
        rows=rows,
        unranked=len(ranking) - len(rows),
        threshold=threshold,
        bucket=demand.bucket,
    )


@bp.get("/privacy")
def privacy() -> str:
    return render_template("public/privacy.html")
