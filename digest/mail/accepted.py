"""The hand-off between a relay accepting a message and the outbox recording it sent."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from digest.mail import outbox


class AcceptedSends:
    """Sends the relay accepted (after DATA's 250) that are not yet recorded as sent.

    Every transaction of the delivery loop is opened through `recording()`, which first
    records the accepted sends: that of the next message, or the end of the batch, a few
    milliseconds later, so a message costs one commit instead of two.

    Invariant: an accepted send leaves this hand-off only once the transaction that
    recorded it has committed. If that transaction fails the send stays for the next
    one, and nothing inside a transaction can release it. So a database blip between
    the 250 and the record delays the record instead of losing it; handing a stopping or
    interrupted worker's claims back never puts back a message the relay accepted; and
    only a crash within those milliseconds means a second copy (with the same
    Message-ID).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        when_recorded: Callable[[Session], None],
    ) -> None:
        self.sessions = sessions
        self._pooled = sessions
        self.clock = clock
        # Run in the transaction that records sends (they went through, so the shared
        # run of failed sends is over).
        self.when_recorded = when_recorded
        self._ids: list[int] = []

    def add(self, message_id: int) -> None:
        self._ids.append(message_id)

    def __bool__(self) -> bool:
        return bool(self._ids)

    @contextlib.contextmanager
    def recording(self) -> Iterator[Session]:
        """A transaction that first records the accepted sends not yet recorded."""
        accepted = list(self._ids)
        with self.sessions.begin() as session:
            if accepted:
                outbox.mark_all_sent(session, accepted, self.clock())
                self.when_recorded(session)
            yield session
        del self._ids[: len(accepted)]

    @contextlib.contextmanager
    def one_connection(self) -> Iterator[None]:
        """Run the transactions opened meanwhile on one connection held for the while (a
        batch): taking a connection from the pool and giving it back cost more than a
        message's statements (and a ping each time on PostgreSQL). Between transactions
        the connection holds no transaction and no lock."""
        bind = self._pooled.kw.get("bind")
        if not isinstance(bind, Engine):
            yield
            return
        options = {key: value for key, value in self._pooled.kw.items() if key != "bind"}
        with bind.connect() as connection:
            self.sessions = sessionmaker(bind=connection, **options)
            try:
                yield
            finally:
                self.sessions = self._pooled

    def record(self) -> None:
        """Record the accepted sends now, in a transaction of their own."""
        if self._ids:
            with self.recording():
                pass
