"""Full-text search over meetings, agenda items, decisions and document text.

One interface, two engines with the same results: SQLite's FTS5 (porter stemmer) in the
embedded default, PostgreSQL's full-text search (tsvector, GIN) in production. The index
is `search_entries`, written by the collector in the same transaction as the meetings
(`index_meetings`); the engine-specific index over it follows by trigger (SQLite) or as a
generated column (PostgreSQL), so it can never lag behind the data.

Documents whose text was read (PDF reports, packs, minutes not split into items) are
entries of their own. Their snippets are cut here from the text, not by the engine: an
engine's snippet reads the whole text of each hit (7 ms for 100,000 characters on FTS5),
which a page of long documents would turn into a slow search.

Longer than 400 lines on purpose: what an entry holds (`entries_for`) and how each
engine's query reads it (`_Sqlite`, `_Postgres`) must change together, or the two engines
stop giving the same results; split apart, each half would hide the other's contract.

Queries are never passed through: the words of the query are extracted (letters and
digits only, at most MAX_TERMS of at most MAX_TERM characters, English stop words
dropped the way PostgreSQL drops them) and every word must match, so FTS operators,
quotes and 10,000-character pastes are only words, bounded and bound as parameters.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.orm import Session

from digest import topics
from digest.db import fit
from digest.models import AgendaItem, Document, Meeting, SearchEntry

PAGE_SIZE = 20
MAX_PAGE = 50
MAX_TERMS = 8
MAX_TERM = 40
MAX_QUERY = 500  # characters looked at; the rest of a pasted essay is ignored
TOTAL_CAP = 1000  # counted exactly up to here, then "1,000+"
MAX_BODY = 100_000
MAX_ENTRIES = 1024  # per meeting (the meeting itself, its agenda items, its documents)
SNIPPET_CHARS = 240  # around the first match in a document's text
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_START, _STOP = "\x02", "\x03"
# PostgreSQL's english stop words (a query made only of these finds nothing there, so
# SQLite drops them too and both engines answer alike).
STOP_WORDS = frozenset(
    [
        "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
        "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
        "by", "can", "did", "do", "does", "doing", "don", "down", "during", "each", "few", "for",
        "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
        "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself",
        "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on",
        "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "s",
        "same", "she", "should", "so", "some", "such", "t", "than", "that", "the", "their",
        "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those",
        "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what",
        "when", "where", "which", "while", "who", "whom", "why", "will", "with", "you", "your",
        "yours", "yourself", "yourselves",
    ]
)  # fmt: skip


class BadSearch(ValueError):
    """A query or filter we cannot run; the message is for the person searching."""


@dataclass(frozen=True)
class SearchQuery:
    text: str
    council_id: int | None = None
    committee: str = ""
    topic: str = ""
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1


@dataclass(frozen=True)
class Hit:
    entry_id: int
    meeting_id: int
    agenda_item_id: int | None
    council_id: int
    committee: str
    start_date: date
    kind: str
    title: str
    snippet: Markup


@dataclass
class SearchPage:
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    total_capped: bool = False
    has_next: bool = False
    terms: list[str] = field(default_factory=list)


def terms_of(text: str) -> list[str]:
    words: list[str] = []
    for word in _WORD.findall(text[:MAX_QUERY].lower()):
        word = word[:MAX_TERM]
        if word not in STOP_WORDS and word not in words:
            words.append(word)
        if len(words) == MAX_TERMS:
            break
    return words


def sort_key(day: date, meeting_id: int, position: int) -> int:
    """Newest first as one integer: the date, then the meeting, then the item's place on
    the agenda (reversed, so reading keys downwards keeps agenda order). Unique: meeting
    ids are below 2**31 and a meeting has fewer than 1,024 entries (more are not indexed)."""
    return (day.toordinal() << 41) | (meeting_id << 10) | (MAX_ENTRIES - 1 - position)


def _day_range(query: SearchQuery) -> tuple[int | None, int | None]:
    low = query.date_from.toordinal() << 41 if query.date_from else None
    high = ((query.date_to.toordinal() + 1) << 41) - 1 if query.date_to else None
    return low, high


def search(session: Session, query: SearchQuery) -> SearchPage:
    if query.page < 1 or query.page > MAX_PAGE:
        raise BadSearch(f"page must be between 1 and {MAX_PAGE}")
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise BadSearch("the “from” date is after the “to” date")
    if query.topic and query.topic not in topics.taxonomy().slugs:
        raise BadSearch(f"There is no topic “{query.topic[:100]}”.")
    terms = terms_of(query.text)
    if not terms:
        return SearchPage(terms=[])
    engine: _Sqlite | _Postgres = (
        _Postgres() if session.get_bind().dialect.name == "postgresql" else _Sqlite()
    )
    where, params = engine.match(terms)
    key = engine.key
    filters = [where]
    needs_entries = False
    if query.council_id is not None:
        filters.append("e.council_id = :council_id")
        params["council_id"] = query.council_id
        needs_entries = True
    if query.committee:
        filters.append("e.committee = :committee")
        params["committee"] = fit(SearchEntry.committee, query.committee)
        needs_entries = True
    if query.topic:
        topic_where, params["topic"] = engine.topic(query.topic)
        filters.append(topic_where)
        needs_entries = needs_entries or engine.topic_joins
    low, high = _day_range(query)
    if low is not None:
        filters.append(f"{key} >= :low")
        params["low"] = low
    if high is not None:
        filters.append(f"{key} <= :high")
        params["high"] = high
    condition = " AND ".join(filters)
    source = engine.source(needs_entries)
    offset = (query.page - 1) * PAGE_SIZE
    select_keys = f"SELECT {key} FROM {source} WHERE {condition} ORDER BY {key} DESC "  # noqa: S608
    # Only constant fragments of this module are formatted in; every value is bound.
    if needs_entries:
        # A council or committee filter makes both engines collect every match before
        # ordering (a bitmap on PostgreSQL, a walk on SQLite), so one read of up to
        # TOTAL_CAP keys gives the page and the count together.
        found = list(
            session.scalars(
                sa.text(select_keys + "LIMIT :limit"),
                {**params, "limit": max(TOTAL_CAP + 1, offset + PAGE_SIZE + 1)},
            )
        )
        total = len(found)
        keys = found[offset : offset + PAGE_SIZE + 1]
    else:
        # Otherwise the page comes straight off the ordered index, and the count (up to
        # TOTAL_CAP) is needed only when the page is full.
        keys = list(
            session.scalars(
                sa.text(select_keys + "LIMIT :limit OFFSET :offset"),
                {**params, "limit": PAGE_SIZE + 1, "offset": offset},
            )
        )
        if len(keys) <= PAGE_SIZE and (keys or not offset):
            total = offset + len(keys)
        else:
            total = int(
                session.scalar(
                    sa.text(
                        f"SELECT count(*) FROM (SELECT 1 FROM {source} "  # noqa: S608
                        f"WHERE {condition} LIMIT :cap) c"
                    ),
                    {**params, "cap": TOTAL_CAP + 1},
                )
                or 0
            )
    rows: Sequence[Any] = []
    if keys:
        rows = session.execute(
            sa.text(
                "SELECT e.id, e.meeting_id, e.agenda_item_id, e.council_id, e.committee, "  # noqa: S608
                f"e.start_date, e.kind, e.title, CASE WHEN e.kind = 'document' THEN NULL "
                f"ELSE {engine.snippet} END AS snippet, "
                "CASE WHEN e.kind = 'document' THEN e.body END AS body "
                f"FROM {engine.source(True)} WHERE {engine.detail_where(where)} "
                f"AND {key} IN :keys ORDER BY {key} DESC"
            ).bindparams(sa.bindparam("keys", expanding=True)),
            {**params, "keys": keys[:PAGE_SIZE]},
        ).all()
    has_next = len(keys) > PAGE_SIZE
    hits = [
        Hit(
            entry_id=r.id,
            meeting_id=r.meeting_id,
            agenda_item_id=r.agenda_item_id,
            council_id=r.council_id,
            committee=r.committee,
            start_date=r.start_date
            if isinstance(r.start_date, date)
            else date.fromisoformat(r.start_date),
            kind=r.kind,
            title=r.title,
            snippet=highlight((r.snippet or "") if r.body is None else text_snippet(r.body, terms)),
        )
        for r in rows
    ]
    return SearchPage(
        hits=hits,
        total=min(total, TOTAL_CAP),
        total_capped=total > TOTAL_CAP,
        has_next=has_next,
        terms=terms,
    )


def highlight(snippet: str) -> Markup:
    """The engine's snippet with our markers → escaped HTML with <mark>."""
    escaped = html.escape(snippet, quote=False)
    marked = escaped.replace(_START, "<mark>").replace(_STOP, "</mark>")
    return Markup(marked)  # noqa: S704 (escaped just above)


def text_snippet(body: str, terms: Sequence[str]) -> str:
    """About SNIPPET_CHARS of a long text around the first word starting like a query
    word (a rough stem: "schools" finds "school"), the words marked as the engines mark
    them; the start of the text when none is found. Bounded: one regex pass."""
    stems = sorted({t[: max(4, len(t) - 2)] for t in terms}, key=len, reverse=True)
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in stems) + r")\w*", re.I)
    found = pattern.search(body)
    start = 0 if found is None else max(0, found.start() - SNIPPET_CHARS // 3)
    if start:
        space = body.find(" ", start, found.start() if found else start)
        start = space + 1 if space >= 0 else start
    end = min(len(body), start + SNIPPET_CHARS)
    if end < len(body):
        space = body.rfind(" ", start, end)
        end = space if space > start else end
    window = " ".join(body[start:end].split())
    marked = pattern.sub(lambda m: f"{_START}{m.group(0)}{_STOP}", window)
    return ("…" if start else "") + marked + ("…" if end < len(body) else "")


class _Sqlite:
    key = "search_fts.rowid"
    snippet = "snippet(search_fts, -1, char(2), char(3), '…', 16)"
    topic_joins = True

    def topic(self, slug: str) -> tuple[str, str]:
        # Slugs are letters and hyphens (checked against the taxonomy): no LIKE wildcards.
        # Read from the index (sort_key, topics), not from rows with long bodies.
        return "e.topics LIKE :topic", f"% {slug} %"

    def source(self, entries: bool) -> str:
        if entries:
            return "search_fts JOIN search_entries e ON e.sort_key = search_fts.rowid"
        return "search_fts"

    def detail_where(self, where: str) -> str:
        return where  # snippet() needs the full-text match in its own query

    def match(self, terms: Sequence[str]) -> tuple[str, dict[str, Any]]:
        # Each word quoted: inside quotes FTS5 syntax (AND, OR, NEAR, *, ^, :) is text.
        return "search_fts MATCH :match", {"match": " ".join(f'"{t}"' for t in terms)}


class _Postgres:
    key = "e.sort_key"
    snippet = (
        "ts_headline('english', left(e.title || ' — ' || e.body, 20000), "
        "plainto_tsquery('english', :words), "
        "'StartSel=\x02, StopSel=\x03, MaxWords=24, MinWords=10, MaxFragments=1')"
    )

    topic_joins = False

    def topic(self, slug: str) -> tuple[str, str]:
        # The topics are lexemes 'topic=<slug>' in the same GIN-indexed tsvector
        # (migration 0015): the index finds words and topic together.
        return "e.search_vector @@ CAST(:topic AS tsquery)", f"'topic={slug}'"

    def source(self, entries: bool) -> str:
        return "search_entries e"

    def detail_where(self, where: str) -> str:
        return "TRUE"

    def match(self, terms: Sequence[str]) -> tuple[str, dict[str, Any]]:
        return "e.search_vector @@ plainto_tsquery('english', :words)", {"words": " ".join(terms)}


# --- keeping the index -------------------------------------------------------------------


def _clean(text: str, limit: int) -> str:
    return _CONTROL.sub(" ", text)[:limit]


def _topic_field(slugs: Iterable[str]) -> str:
    """Topic slugs as ' a b ' so one LIKE '% a %' finds them alike on both engines."""
    joined = " ".join(slugs)
    return f" {joined} " if joined else ""


def entries_for(
    meeting: Meeting, items: Iterable[AgendaItem], documents: Iterable[Document] = ()
) -> list[dict[str, Any]]:
    """Rows for search_entries: the meeting, each item, then each document with text."""
    items = list(items)

    def key(position: int) -> int:
        return sort_key(meeting.start_date, meeting.id, position)

    meeting_topics = _topic_field(topics.meeting_topics(items))
    common = {
        "meeting_id": meeting.id,
        "council_id": meeting.council_id,
        "committee": fit(SearchEntry.committee, meeting.committee),
        "start_date": meeting.start_date,
    }
    found = [
        {
            "agenda_item_id": None,
            "kind": "meeting",
            "sort_key": key(0),
            "title": _clean(meeting.title or meeting.committee, 1000),
            "body": _clean(" ".join(filter(None, [meeting.committee, meeting.venue])), 2000),
            "topics": meeting_topics,
            **common,
        }
    ]
    by_id: dict[int, AgendaItem] = {}
    for item in items[: MAX_ENTRIES - 1]:
        by_id[item.id] = item
        decided = bool(item.resolutions) or item.is_decision
        parts = (
            [] if item.is_restricted else [item.agenda_text, item.minutes_text, *item.resolutions]
        )
        found.append(
            {
                "agenda_item_id": item.id,
                "kind": "decision" if decided else "item",
                "sort_key": key(len(found)),
                "title": _clean(item.title, 1000),
                "body": _clean("\n".join(p for p in parts if p), MAX_BODY),
                # A private item's topics come from its public title (topics.tag_item).
                "topics": _topic_field(item.topics or []),
                **common,
            }
        )
    # A document whose text was shared out to the items as their minutes is found there.
    shared_out = {item.minutes_document_id for item in items if item.minutes_document_id}
    for doc in documents:
        if len(found) == MAX_ENTRIES:
            break
        if not doc.text or doc.is_restricted or doc.id in shared_out:
            continue
        owner = by_id.get(doc.agenda_item_id) if doc.agenda_item_id else None
        if owner is not None and owner.is_restricted:
            continue
        found.append(
            {
                "agenda_item_id": owner.id if owner is not None else None,
                "kind": "document",
                "sort_key": key(len(found)),
                "title": _clean(doc.title, 1000),
                "body": _clean(doc.text, MAX_BODY),
                "topics": _topic_field(owner.topics or []) if owner else meeting_topics,
                **common,
            }
        )
    return found


def index_meetings(session: Session, meetings: Sequence[Meeting]) -> None:
    """Replace the index entries of these (flushed) meetings; does not commit."""
    if not meetings:
        return
    ids = [m.id for m in meetings]
    items: dict[int, list[AgendaItem]] = {i: [] for i in ids}
    for item in session.scalars(
        sa.select(AgendaItem).where(AgendaItem.meeting_id.in_(ids)).order_by(AgendaItem.position)
    ):
        items[item.meeting_id].append(item)
    documents: dict[int, list[Document]] = {i: [] for i in ids}
    for doc in session.scalars(
        sa.select(Document)
        .where(Document.meeting_id.in_(ids), Document.text != "")
        .order_by(Document.position, Document.id)
    ):
        documents[doc.meeting_id].append(doc)
    session.execute(sa.delete(SearchEntry).where(SearchEntry.meeting_id.in_(ids)))
    rows = [
        row
        for meeting in meetings
        for row in entries_for(meeting, items[meeting.id], documents[meeting.id])
    ]
    # Plain rows, one executemany: the collector writes thousands per run.
    session.execute(sa.insert(SearchEntry), rows)


def reindex_all(session: Session, batch: int = 500) -> int:
    """Rebuild every meeting's entries (after an upgrade); returns meetings indexed."""
    done = 0
    last = 0
    while True:
        chunk = list(
            session.scalars(
                sa.select(Meeting).where(Meeting.id > last).order_by(Meeting.id).limit(batch)
            )
        )
        if not chunk:
            return done
        index_meetings(session, chunk)
        done += len(chunk)
        last = chunk[-1].id


def index_missing(session: Session) -> int:
    """Index the meetings that have no entries yet (collected before the index existed);
    returns how many. Run by `digest init` after an upgrade."""
    missing = list(
        session.scalars(
            sa.select(Meeting).where(~sa.exists().where(SearchEntry.meeting_id == Meeting.id))
        )
    )
    for start in range(0, len(missing), 500):
        index_meetings(session, missing[start : start + 500])
    return len(missing)
