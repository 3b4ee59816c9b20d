"""Extraction jobs: download a queued PDF, read its text, give each agenda item its
minutes and decisions.

A document whose `extract_state` is 'pending' is a job. Workers claim jobs with a lease
(on PostgreSQL `FOR UPDATE SKIP LOCKED`, as the outbox does), so any number of `digest
worker` processes share them without overlap and a worker that dies only delays its job
until the lease runs out. The download goes through the collector's fetcher (SSRF guard,
per-host politeness, user agent, conditional GET) with `[collector] max_pdf_bytes` as its
cap; the parsing happens in a child process with limits (`pdftext.extract_isolated`).
No database session is open while downloading or parsing.

A document is read once: a 304, or a body whose hash matches the one already read, is
not parsed again, and a document that was read is never queued again. A PDF that cannot
be read keeps a one-line `problem`; the meeting keeps everything else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload, sessionmaker

from digest import search
from digest.collector.http_client import Fetcher, FetchError, Validator
from digest.config import CollectorConfig
from digest.db import fit, is_postgres
from digest.documents import layout, pdftext
from digest.models import AgendaItem, ChangeKind, Document, Meeting, MeetingChange
from digest.weekly.resolutions import extract_resolutions

log = logging.getLogger("digest.documents")

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(minutes=30)

PENDING, WORKING, DONE, FAILED = "pending", "working", "done", "failed"


def pdf_fetcher(config: CollectorConfig, **options: Any) -> Fetcher:
    """The collector's fetcher with the PDF size cap instead of the XML one; pass the
    collector's `gate` to share its per-host politeness."""
    capped = dataclasses.replace(config, max_response_bytes=config.max_pdf_bytes)
    return Fetcher(capped, **options)


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(
            Document.extract_state == PENDING,
            sa.or_(Document.extract_lease_until.is_(None), Document.extract_lease_until <= now),
        ),
        # A worker that died mid-job: once its lease has run out the job is due again.
        sa.and_(Document.extract_state == WORKING, Document.extract_lease_until < now),
    )


def pending_count(session: Session, now: datetime) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Document).where(_due(now))) or 0


def claim(
    session: Session,
    *,
    now: datetime,
    limit: int,
    lease: timedelta = LEASE,
    council_ids: Sequence[int] | None = None,
) -> list[int]:
    """Take up to `limit` due jobs until now + lease."""
    stmt = sa.select(Document.id).where(_due(now)).order_by(Document.id).limit(limit)
    if council_ids is not None:
        stmt = stmt.join(Meeting, Document.meeting_id == Meeting.id).where(
            Meeting.council_id.in_(list(council_ids))
        )
    if is_postgres(session):
        stmt = stmt.with_for_update(of=Document, skip_locked=True)
    ids = list(session.scalars(stmt))
    if ids:
        session.execute(
            sa.update(Document)
            .where(Document.id.in_(ids))
            .values(
                extract_state=WORKING,
                extract_lease_until=now + lease,
                extract_attempts=Document.extract_attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
    return ids


@dataclass(frozen=True)
class _Job:
    id: int
    url: str
    validator: Validator
    content_sha256: str | None
    has_text: bool
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """What one job came to: text read (`pages`), nothing new, a problem, or a retry."""

    document_id: int
    pages: int = 0
    items: int = 0
    problem: str | None = None
    retry: bool = False
    unchanged: bool = False


@dataclass
class ExtractReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def read(self) -> int:
        return sum(1 for o in self.outcomes if o.pages and not o.problem)

    @property
    def problems(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.problem and not o.retry]

    def summary(self) -> str:
        retried = sum(1 for o in self.outcomes if o.retry)
        unchanged = sum(1 for o in self.outcomes if o.unchanged)
        parts = [f"{self.read} documents read"]
        if unchanged:
            parts.append(f"{unchanged} unchanged")
        if self.problems:
            parts.append(f"{len(self.problems)} unreadable")
        if retried:
            parts.append(f"{retried} to retry")
        return ", ".join(parts)


def run(
    sessions: sessionmaker[Session],
    fetcher: Fetcher,
    clock: Callable[[], datetime],
    *,
    limit: int | None = None,
    council_ids: Sequence[int] | None = None,
) -> ExtractReport:
    """Claim and run jobs one at a time until none is due (or `limit` were run)."""
    report = ExtractReport()
    try:
        while limit is None or len(report.outcomes) < limit:
            with sessions.begin() as session:
                ids = claim(session, now=clock(), limit=1, council_ids=council_ids)
                jobs = [_job(session.get_one(Document, i)) for i in ids]
            if not jobs:
                break
            for job in jobs:
                try:
                    outcome = run_job(sessions, fetcher, clock, job)
                except Exception as exc:  # a bug must not stop the loop or retry forever
                    log.exception("reading document %s failed", job.id)
                    message = f"internal error while reading ({type(exc).__name__}: {exc})"
                    with sessions.begin() as session:
                        _fail(session.get_one(Document, job.id), message, clock())
                    outcome = Outcome(job.id, problem=fit(Document.problem, message))
                report.outcomes.append(outcome)
    finally:
        pdftext.release()  # an idle worker keeps no reading child
    return report


def _job(doc: Document) -> _Job:
    return _Job(
        doc.id,
        doc.url,
        Validator(doc.etag, doc.last_modified) if doc.text else Validator(),
        doc.content_sha256,
        bool(doc.text),
        doc.extract_attempts,
    )


def run_job(
    sessions: sessionmaker[Session], fetcher: Fetcher, clock: Callable[[], datetime], job: _Job
) -> Outcome:
    """Download and read one claimed document, then record the result. Never raises for
    a bad file or a bad site; the problem is recorded on the document."""
    try:
        fetched = fetcher.get(job.url, validator=job.validator)
    except FetchError as exc:
        message = _fetch_problem(str(exc), fetcher)
        transient = _transient(message) and job.attempts < MAX_ATTEMPTS
        with sessions.begin() as session:
            doc = session.get_one(Document, job.id)
            if transient:
                doc.extract_state = PENDING
                doc.extract_lease_until = clock() + RETRY_AFTER
            else:
                _fail(doc, message, clock())
        return Outcome(job.id, problem=message, retry=transient)
    if fetched.not_modified or (job.has_text and fetched.sha256 == job.content_sha256):
        with sessions.begin() as session:
            doc = session.get_one(Document, job.id)
            doc.extract_state = DONE
            doc.extract_lease_until = None
        return Outcome(job.id, unchanged=True)
    try:
        pdftext.check_bytes(fetched.body, fetched.content_type)
        result = pdftext.extract_isolated(fetched.body)
    except pdftext.PdfProblem as exc:
        with sessions.begin() as session:
            doc = session.get_one(Document, job.id)
            _fail(doc, str(exc), clock())
            doc.content_sha256 = fetched.sha256
        return Outcome(job.id, problem=str(exc))
    text = layout.clean_pages(result.pages)
    with sessions.begin() as session:
        now = clock()
        doc = session.get_one(Document, job.id)
        doc.text = text
        doc.pages = len(result.pages)
        doc.content_sha256 = fetched.sha256
        doc.etag = fit(Document.etag, fetched.validator.etag or "") or None
        doc.last_modified = (
            fit(Document.last_modified, fetched.validator.last_modified or "") or None
        )
        doc.extracted_at = now
        doc.extract_state = DONE
        doc.extract_lease_until = None
        doc.problem = (
            f"{result.image_pages} of {len(result.pages)} pages are scanned images without text"
            if result.image_pages
            else None
        )
        items = apply_text(session, doc, now)
        # Searchable from this same transaction: the text, or the items' minutes from it.
        search.index_meetings(session, [session.get_one(Meeting, doc.meeting_id)])
    return Outcome(job.id, pages=len(result.pages), items=items)


def apply_text(session: Session, doc: Document, now: datetime) -> int:
    """Give the items of the document's meeting their part of its text and their
    decisions; returns how many items got text. Items with minutes from the web service
    keep them; printed minutes win over a decision notice."""
    meeting = session.scalars(
        sa.select(Meeting)
        .where(Meeting.id == doc.meeting_id)
        .options(selectinload(Meeting.items), selectinload(Meeting.documents))
    ).one()
    if doc.kind == "report":
        owner = next((i for i in meeting.items if i.id == doc.agenda_item_id), None)
        recommended = layout.recommendations(doc.text)
        if owner is None or not recommended or owner.is_restricted:
            return 0
        owner.report_recommendations = recommended
        return 1
    kinds = {d.id: d.kind for d in meeting.documents}
    public = [item for item in meeting.items if not item.is_restricted]
    headings = [layout.ItemHeading(str(item.id), item.number, item.title) for item in public]
    sections = layout.split_items(doc.text, headings)
    given = 0
    for item in public:
        section = sections.get(str(item.id))
        if not section or not _may_replace(item, doc, kinds):
            continue
        item.minutes_text = section
        item.minutes_document_id = doc.id
        item.resolutions = extract_resolutions(section)
        given += 1
    if given and not meeting.minutes_published:
        meeting.minutes_published = True
        meeting.updated_at = now
        session.add(
            MeetingChange(
                council_id=meeting.council_id,
                meeting_id=meeting.id,
                kind=ChangeKind.MINUTES_PUBLISHED,
                seen_at=now,
                detail={
                    "start_at": meeting.start_at.isoformat(),
                    "status": meeting.status.value,
                    "from_document": doc.url,
                },
            )
        )
    return given


def _may_replace(item: AgendaItem, doc: Document, kinds: dict[int, str]) -> bool:
    if not item.minutes_text or item.minutes_document_id == doc.id:
        return True
    if item.minutes_document_id is None:
        return False  # minutes from the web service
    return not (doc.kind == "decision_notice" and kinds.get(item.minutes_document_id) == "minutes")


def _fail(doc: Document, message: str, now: datetime) -> None:
    doc.extract_state = FAILED
    doc.extract_lease_until = None
    doc.problem = fit(Document.problem, message)
    doc.extracted_at = now


def _fetch_problem(message: str, fetcher: Fetcher) -> str:
    if "max_response_bytes" in message:
        cap = fetcher.config.max_response_bytes
        return f"the PDF is larger than {cap:,} bytes ([collector] max_pdf_bytes); not downloaded"
    return message


def _transient(message: str) -> bool:
    return any(
        marker in message
        for marker in ("did not answer", "server error", "cut off", "took longer", "slow down")
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class DocumentProblem:
    meeting_id: int
    committee: str
    start_at: datetime
    title: str
    url: str
    problem: str


def problems_of(session: Session, council_id: int, *, limit: int = 50) -> list[DocumentProblem]:
    """A council's documents whose text could not be read, newest meetings first (for
    the admin's council page)."""
    rows = session.execute(
        sa.select(
            Meeting.id,
            Meeting.committee,
            Meeting.start_at,
            Document.title,
            Document.url,
            Document.problem,
        )
        .join(Meeting, Document.meeting_id == Meeting.id)
        .where(Meeting.council_id == council_id, Document.problem.is_not(None))
        .order_by(Meeting.start_at.desc(), Document.id)
        .limit(limit)
    )
    return [DocumentProblem(a, b, c, d, e, f or "") for a, b, c, d, e, f in rows]


def waiting_of(session: Session, council_id: int) -> int:
    """How many of a council's documents wait to be read."""
    return (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Document)
            .join(Meeting, Document.meeting_id == Meeting.id)
            .where(
                Meeting.council_id == council_id,
                Document.extract_state.in_([PENDING, WORKING]),
            )
        )
        or 0
    )
