"""Process-wide wiring built once from the config: engine, sessions, tokens, mail."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from digest.bounces.refusals import SmtpRefusals
from digest.cache import TTLCache
from digest.clock import utcnow
from digest.config import Config, ensure_secret_key
from digest.db import make_engine, make_sessionmaker, sqlite_connection_held
from digest.links import Links
from digest.lookup.places import PlaceIndex
from digest.lookup.postcodes import PostcodeLookup
from digest.mail.backends import MailBackend, make_backend
from digest.mail.compose import Composer
from digest.mail.delivery import Deliverer
from digest.mail.hooks import NotNeeded
from digest.mail.outbox import MessagePurpose
from digest.mail.queue import MailQueue
from digest.mail.render import RenderedEmail
from digest.models import OutboxMessage
from digest.site import Site
from digest.subscriptions import SendTimeEmails, signup
from digest.tokens import Tokens


class SendTimeRendering:
    """The delivery engine's send-time renderer (digest.mail.hooks): topic watch alerts
    from digest.watches, the subscription emails from digest.subscriptions."""

    def __init__(self, mail: MailQueue, figures: TTLCache) -> None:
        self.mail = mail
        self.subscription_emails = SendTimeEmails(mail, figures)

    def __call__(self, session: Session, row: OutboxMessage, now: datetime) -> RenderedEmail:
        if row.purpose != MessagePurpose.WATCH_ALERT:
            return self.subscription_emails(session, row, now)
        from digest import watches  # loaded with the first alert: it brings the summaries

        mail = self.mail
        found = watches.render_alert(session, row, mail.links, mail.common_context(), mail.config)
        if found is None:
            raise NotNeeded("the topic watch or its items no longer exist")
        return found


@dataclass
class Runtime:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    # For writes of one statement (accepting a sign-up): the shortest hold of SQLite's lock.
    single_statement_sessions: sessionmaker[Session]
    tokens: Tokens
    links: Links
    mail: MailQueue
    composer: Composer
    figures: TTLCache
    site: Site
    clock: Callable[[], datetime] = field(default=utcnow)
    _background: ThreadPoolExecutor | None = field(default=None, repr=False)
    _held: ExitStack | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: Config, *, engine: Engine | None = None) -> Runtime:
        config = ensure_secret_key(config)
        engine = engine or make_engine(config.database.url)
        tokens = Tokens(config.site.secret_key)
        # One per process: pages and the mail composer share the demand ranking.
        figures = TTLCache(config.web.public_cache_seconds)
        links = Links(config.site.base_url, tokens)
        mail = MailQueue(config, links)
        return cls(
            config=config,
            engine=engine,
            sessions=make_sessionmaker(engine),
            read_sessions=make_sessionmaker(engine, readonly=True),
            single_statement_sessions=make_sessionmaker(engine, single_statement=True),
            tokens=tokens,
            links=links,
            mail=mail,
            composer=Composer(config, links, SendTimeRendering(mail, figures)),
            figures=figures,
            site=Site.from_config(config),
        )

    def now(self) -> datetime:
        return self.clock()

    @cached_property
    def postcodes(self) -> PostcodeLookup:
        return PostcodeLookup(self.config, self.sessions)

    @cached_property
    def places(self) -> PlaceIndex:
        """Council names and towns for typo-tolerant search; councils' names change only
        with a new release of the bundled list, so built once per process."""
        from digest import councils

        with self.read_sessions() as session:
            return PlaceIndex(councils.names_by_gss(session))

    def mail_backend(self) -> MailBackend:
        return make_backend(self.config.mail)

    def delivery_sessions(self) -> sessionmaker[Session]:
        """Sessions for the delivery loop, which runs two short transactions per message.

        On SQLite one idle connection is held for the runtime's life
        (`db.sqlite_connection_held`): a commit that closed the last connection would
        checkpoint and delete the WAL every message, slower than sending the message.
        """
        if self._held is None:
            self._held = ExitStack()
            self._held.enter_context(sqlite_connection_held(self.sessions))
        return self.sessions

    def deliverer(self, backend: MailBackend | None = None, worker: str | None = None) -> Deliverer:
        return Deliverer(
            self.delivery_sessions(),
            self.config,
            self.composer,
            backend or self.mail_backend(),
            worker=worker,
            clock=self.clock,
            take_in=self._take_in_signups,
            refusals=SmtpRefusals(self.config),
        )

    def _take_in_signups(self, session: Session, now: datetime) -> bool:
        # A full batch means more may be waiting; failed sign-ups wait for the next round.
        return signup.take_in(session, self.mail, now=now).handled == signup.BATCH

    def in_background(self, work: Callable[[], object]) -> Future[object]:
        """Run slow work (collecting a council) after the web response has gone, one
        job at a time. The scheduler's jobs catch up on anything lost if the process dies."""
        if self._background is None:
            self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-bg")
        return self._background.submit(work)

    def wait_for_background(self) -> None:
        if self._background is not None:
            self._background.shutdown(wait=True)
            self._background = None

    def dispose(self) -> None:
        self.wait_for_background()
        if self._held is not None:
            self._held.close()
            self._held = None
        self.engine.dispose()
