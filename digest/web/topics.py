"""Topics on the web: a council's page per topic, its Atom feed, and the topic list in the
API (SPEC §12.3)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template, url_for
from lxml import etree

from digest.models import Council
from digest.topic_pages import TopicPage, topic_items
from digest.topics import Topic, taxonomy
from digest.web import api
from digest.web.context import db, runtime
from digest.web.public import council_or_404
from digest.weekly.meeting import heading_of, local_date

bp = Blueprint("topics", __name__)
ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 50


def _topic_or_404(slug: str) -> Topic:
    topic = taxonomy().get(slug)
    if topic is None:
        abort(404)
    return topic


@bp.get("/councils/<slug>/topics")
def index(slug: str) -> str:
    council = council_or_404(slug)
    return render_template("topics/index.html", council=council, topics=taxonomy().topics)


@bp.get("/councils/<slug>/topics/<topic>")
def page(slug: str, topic: str) -> str:
    council = council_or_404(slug)
    found = _topic_or_404(topic)
    rt = runtime()
    items = topic_items(db(), council, found.slug, rt.now(), rt.site.tz)
    return render_template(
        "topics/topic.html",
        council=council,
        topic=found,
        page=items,
        tz=rt.config.tz,
        local_date=local_date,
        heading_of=heading_of,
    )


@bp.get("/councils/<slug>/topics/<topic>/feed.atom")
def feed(slug: str, topic: str) -> Response:
    council = council_or_404(slug)
    found = _topic_or_404(topic)
    rt = runtime()
    items = topic_items(db(), council, found.slug, rt.now(), rt.site.tz)
    body = _atom(
        council,
        found,
        items,
        self_url=rt.links.url(url_for("topics.feed", slug=council.slug, topic=found.slug)),
    )
    response = Response(body, mimetype="application/atom+xml")
    response.headers["Cache-Control"] = "public, max-age=900"
    return response


def _text(parent: etree._Element, tag: str, value: str, **attrs: str) -> etree._Element:
    child = etree.SubElement(parent, f"{{{ATOM}}}{tag}", attrib=attrs)
    child.text = value
    return child


def _atom(council: Council, topic: Topic, page: TopicPage, self_url: str) -> bytes:
    """One entry per item: decided ones with their decisions, coming ones with their
    meeting's date. Built with lxml, so council text cannot break the XML."""
    rt = runtime()
    tz = rt.config.tz
    links = rt.links
    domain = rt.site.domain
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _text(feed, "title", f"{council.name}: {topic.title}")
    _text(feed, "subtitle", topic.description)
    page_url = links.url(f"/councils/{council.slug}/topics/{topic.slug}")
    _text(feed, "id", page_url)
    etree.SubElement(
        feed, f"{{{ATOM}}}link", rel="self", href=self_url, type="application/atom+xml"
    )
    etree.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=page_url)
    author = etree.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", rt.config.site.name)
    updated = _text(feed, "updated", _iso(rt.now()))
    entries = sorted([*page.decided, *page.upcoming], key=lambda t: t.changed_at, reverse=True)[
        :FEED_ENTRIES
    ]
    if entries:
        updated.text = _iso(entries[0].changed_at)
    for found in entries:
        meeting, item = found.meeting, found.item
        entry = etree.SubElement(feed, f"{{{ATOM}}}entry")
        url = links.meeting(council.slug, meeting.id)
        when = local_date(meeting.start_at, tz)
        _text(entry, "title", f"{item.title} ({heading_of(meeting)}, {when})")
        _text(entry, "id", f"tag:{domain},2026:item-{item.id}")
        etree.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=url, type="text/html")
        if meeting.source_url:
            etree.SubElement(entry, f"{{{ATOM}}}link", rel="via", href=meeting.source_url)
        _text(entry, "updated", _iso(found.changed_at))
        summary = (
            "; ".join(found.decisions)
            if found.decisions
            else (item.agenda_text[:500] or f"On the agenda of {heading_of(meeting)} on {when}.")
        )
        _text(entry, "summary", summary)
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="utf-8"))


def _iso(moment: object) -> str:
    from datetime import UTC, datetime

    assert isinstance(moment, datetime)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@api.bp.get("/topics", endpoint="topics")
def api_topics() -> Response:
    return jsonify(
        {
            "version": taxonomy().version,
            "topics": [
                {"slug": t.slug, "title": t.title, "description": t.description}
                for t in taxonomy().topics
            ],
        }
    )
