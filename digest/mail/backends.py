"""Where composed messages go: a local Maildir (the embedded default) or an SMTP relay."""

from __future__ import annotations

import contextlib
import mailbox
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from digest.config import MailConfig
from digest.mail.replies import DeliveryError, classify_smtp_code, enhanced_status

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


class MailBackend(Protocol):
    def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Deliver or raise DeliveryError."""

    def close(self) -> None: ...


@runtime_checkable
class SplitSending(Protocol):
    """A backend that can send a message and collect the server's verdict separately,
    so the caller can prepare the next message in between."""

    def begin(self, sender: str, recipient: str, message: Callable[[], bytes]) -> None:
        """`message` is called for the bytes once the server is ready for them."""

    def finish(self, keepalive: Callable[[], None] | None = None, every: float = 60.0) -> None:
        """`keepalive` is called every `every` seconds while waiting for the server;
        an exception from it abandons the wait."""


class MaildirBackend:
    """Writes each message into a Maildir, as a local delivery agent would."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # mailbox.Maildir only creates its subfolders when the folder itself is missing.
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        self._box = mailbox.Maildir(str(self.path), create=False)

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        envelope = f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n".encode()
        # Maildir files use the local line ending; the wire form uses CRLF.
        self._box.add((envelope + message).replace(b"\r\n", b"\n"))

    def close(self) -> None:
        self._box.close()


def dot_stuffed(message: bytes) -> bytes:
    """A dot added to every line that starts with one (RFC 5321 section 4.5.2), as
    smtplib's `_quote_periods` does, with plain replaces: its regular expression took a
    tenth of the delivery loop on digests whose quoted-printable wraps a line just
    before a full stop."""
    stuffed = message.replace(b"\n.", b"\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


class ExchangeTimeout(TimeoutError):
    """The server did not finish answering within the exchange's deadline."""


class KeepaliveFailed(OSError):
    """The caller's keepalive failed while we waited for the server: stop waiting."""


class _Bounded:
    """smtplib with a total deadline per exchange instead of a timeout per socket
    operation: a server answering a byte at a time would otherwise hold a worker (and
    outlast its lease) indefinitely. `deadline` (time.monotonic) bounds every read and
    write until it is moved; `keepalive` runs every `keepalive_every` seconds of a wait."""

    sock: socket.socket | None
    file: Any
    deadline: float = 0.0
    budget: float = 0.0
    keepalive: Callable[[], None] | None = None
    keepalive_every: float = 60.0

    def bound(self, seconds: float, keepalive: Callable[[], None] | None = None) -> None:
        self.until(time.monotonic() + seconds, seconds, keepalive)

    def until(
        self, deadline: float, budget: float, keepalive: Callable[[], None] | None = None
    ) -> None:
        self.deadline = deadline
        self.budget = budget
        self.keepalive = keepalive
        self._next_keepalive: float | None = None

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ExchangeTimeout(f"no answer within {self.budget:g} seconds")
        return remaining

    def send(self, s: ReadableBuffer | str) -> None:
        if self.sock is not None:
            # sendall: the timeout bounds the whole write (Python 3.5+).
            self.sock.settimeout(self._remaining())
        super().send(s)  # type: ignore[misc]

    def getreply(self) -> tuple[int, bytes]:
        if not isinstance(self.file, _DeadlineReader) and self.sock is not None:
            self.file = _DeadlineReader(self)
        reply: tuple[int, bytes] = super().getreply()  # type: ignore[misc]
        return reply

    def recv(self) -> bytes:
        while True:
            remaining = self._remaining()
            wait = remaining
            if self.keepalive is not None:
                # Due by the clock, not by silence: a trickle never stays silent.
                now = time.monotonic()
                if self._next_keepalive is None:
                    self._next_keepalive = now + self.keepalive_every
                elif now >= self._next_keepalive:
                    try:
                        self.keepalive()
                    except Exception as exc:
                        raise KeepaliveFailed(f"stopped waiting: {exc}") from exc
                    self._next_keepalive = now + self.keepalive_every
                wait = min(remaining, max(0.01, self._next_keepalive - now))
            assert self.sock is not None
            self.sock.settimeout(wait)
            try:
                return self.sock.recv(8192)
            except TimeoutError:
                continue  # the deadline or the keepalive is due: checked above


class _DeadlineReader:
    """Stands in for smtplib's socket file (it only calls `readline`)."""

    def __init__(self, conn: _Bounded) -> None:
        self.conn = conn
        self.buffer = b""

    def readline(self, limit: int = -1) -> bytes:
        while True:
            end = self.buffer.find(b"\n") + 1
            if not end and 0 < limit <= len(self.buffer):
                end = limit
            if end:
                line, self.buffer = self.buffer[:end], self.buffer[end:]
                return line
            chunk = self.conn.recv()
            if not chunk:
                line, self.buffer = self.buffer, b""
                return line
            self.buffer += chunk

    def close(self) -> None:
        self.buffer = b""


class _BoundedSMTP(_Bounded, smtplib.SMTP):
    pass


class _BoundedSMTP_SSL(_Bounded, smtplib.SMTP_SSL):
    pass


class SmtpBackend:
    """One connection reused for up to `messages_per_connection` messages, opened again
    after the server closes it (smtplib itself closes the socket on a 421 reply).

    Deadlines: everything up to the end of DATA (connecting, TLS and login included)
    must be done within `smtp_timeout` in total; the server's final reply to DATA may
    take `smtp_data_timeout` (RFC 5321 section 4.5.3.2.6 suggests 10 minutes: the relay
    may be scanning or relaying the message). A final reply that never comes leaves the
    message's fate unknown, so it is failed with that reason rather than sent again."""

    def __init__(self, config: MailConfig) -> None:
        self.config = config
        self._conn: _BoundedSMTP | _BoundedSMTP_SSL | None = None
        self._sent_on_conn = 0
        self.connections_opened = 0
        self._deadline = 0.0

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.smtp_ca_file or None)

    def _connect(self) -> _BoundedSMTP | _BoundedSMTP_SSL:
        cfg = self.config
        conn: _BoundedSMTP | _BoundedSMTP_SSL
        if cfg.smtp_security == "tls":
            conn = _BoundedSMTP_SSL(timeout=cfg.smtp_timeout, context=self._tls_context())
        else:
            conn = _BoundedSMTP(timeout=cfg.smtp_timeout)
        # Within the deadline `begin` set for the whole exchange.
        conn.until(self._deadline, cfg.smtp_timeout)
        # The name TLS checks the certificate against (set by __init__ when it connects).
        conn._host = cfg.smtp_host  # type: ignore[union-attr]
        try:
            conn.connect(cfg.smtp_host, cfg.smtp_port)
            if cfg.smtp_security == "starttls":
                conn.starttls(context=self._tls_context())
            if cfg.smtp_username:
                conn.login(cfg.smtp_username, cfg.smtp_password)
        except BaseException:
            conn.close()
            raise
        if conn.sock is not None:
            # Room for a whole message in the send buffer, so `begin` returns while the
            # relay is still reading it and the caller can prepare the next one.
            with contextlib.suppress(OSError):
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        self.connections_opened += 1
        return conn

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        self.begin(sender, recipient, lambda: message)
        self.finish()

    def begin(self, sender: str, recipient: str, message: Callable[[], bytes]) -> None:
        """Send one message up to and including the end of DATA, without waiting for
        the server's verdict; `finish` reads it. In between the caller may prepare the
        next message while the server processes this one. One recipient per transaction
        (INJ-4): addresses go as separate arguments, never into hand-built commands.

        `message` gives the bytes once the server has said go ahead (354), so the
        caller's signing can finish during the exchange before it. If it raises, the
        connection is dropped: a server in DATA takes anything else we send as part
        of the message, and closing without the final dot is how a client abandons it."""
        with self._translate_errors():
            conn, reused = self._connection()
            try:
                code, reply = conn.mail(sender)
            except (smtplib.SMTPServerDisconnected, OSError):
                if not reused:
                    raise
                code, reply = 421, b"closed while idle"
            if code == 421 and reused:
                # The relay closed the pooled connection after the last message (or on
                # an idle timeout): open a new one, once, before this counts as a failure.
                self._drop()
                conn, _ = self._connection()
                code, reply = conn.mail(sender)
            if code != 250:
                self._refused(code)
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            code, reply = conn.rcpt(recipient)
            if code not in (250, 251):
                self._refused(code)
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
            code, reply = conn.docmd("data")
            if code != 354:
                self._refused(code)
                raise smtplib.SMTPDataError(code, reply)
            try:
                message_bytes = message()
            except BaseException:
                self._drop()
                raise
            # As smtplib.SMTP.data: dot-stuffing, and the message ends with CRLF . CRLF.
            body = dot_stuffed(message_bytes)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            conn.send(body + b".\r\n")

    def _connection(self) -> tuple[_BoundedSMTP | _BoundedSMTP_SSL, bool]:
        """The connection for the next message, under a fresh exchange deadline, and
        whether it was reused (it may have died since)."""
        reused = True
        if self._conn is None or self._sent_on_conn >= self.config.messages_per_connection:
            self.close()
            self._deadline = time.monotonic() + self.config.smtp_timeout
            self._conn = self._connect()
            self._sent_on_conn = 0
            reused = False
        else:
            self._deadline = time.monotonic() + self.config.smtp_timeout
        self._sent_on_conn += 1
        conn = self._conn
        conn.until(self._deadline, self.config.smtp_timeout)
        conn.ehlo_or_helo_if_needed()
        return conn, reused

    def finish(self, keepalive: Callable[[], None] | None = None, every: float = 60.0) -> None:
        """The server's reply to the message sent by `begin`, waited for up to
        `smtp_data_timeout`, calling `keepalive` every `every` seconds meanwhile."""
        with self._translate_errors(final_reply=True):
            if self._conn is None:
                raise smtplib.SMTPServerDisconnected("connection lost before the reply")
            self._conn.bound(self.config.smtp_data_timeout, keepalive)
            self._conn.keepalive_every = every
            code, reply = self._conn.getreply()
            if code != 250:
                self._refused(code)
                raise smtplib.SMTPDataError(code, reply)

    def _refused(self, code: int) -> None:
        # smtplib closes the connection itself on 421 (the server is going away); any
        # other refusal leaves it usable after RSET.
        if code == 421 or self._conn is None:
            self._drop()
            return
        try:
            self._conn.bound(self.config.smtp_timeout)
            self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    @contextlib.contextmanager
    def _translate_errors(self, *, final_reply: bool = False) -> Iterator[None]:
        try:
            yield
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise classify_smtp_code(code, _text(text)) from exc
        except smtplib.SMTPSenderRefused as exc:
            # A refused envelope sender is our configuration or reputation, not the
            # recipient: retried, and never counted against the address.
            raise _about_us(exc) from exc
        except smtplib.SMTPDataError as exc:
            raise classify_smtp_code(exc.smtp_code, _text(exc.smtp_error)) from exc
        except smtplib.SMTPAuthenticationError as exc:
            self._drop()
            # Wrong credentials are our configuration, never the recipient's fault: retry
            # (an operator fixing the password lets the queue drain).
            raise DeliveryError(f"relay refused our login: {exc}", temporary=True) from exc
        except smtplib.SMTPResponseException as exc:
            # Refused greeting, EHLO, STARTTLS: the relay's state, retried later.
            self._drop()
            raise _about_us(exc) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            stopped = _in_chain(exc, KeepaliveFailed)
            if stopped is not None:
                raise DeliveryError(
                    f"abandoned while waiting for the relay: {stopped}",
                    temporary=True,
                    abandoned=True,
                ) from exc
            if final_reply and _in_chain(exc, ExchangeTimeout):
                # The whole message reached the relay, which may have accepted it: sending
                # it again could deliver it twice.
                raise DeliveryError(
                    "the relay did not answer the end of the message within "
                    f"{self.config.smtp_data_timeout:g} seconds; it may have accepted it, "
                    "so it is not sent again (requeue it if it never arrived)",
                    temporary=False,
                ) from exc
            # Timeouts, refused or dropped connections, TLS failures: nothing was accepted
            # (or we cannot know), so the message goes back to the queue.
            raise DeliveryError(f"connection problem: {exc!r}", temporary=True) from exc

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.bound(self.config.smtp_timeout)
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()


def _in_chain(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _about_us(exc: smtplib.SMTPResponseException) -> DeliveryError:
    text = _text(exc.smtp_error)
    return DeliveryError(
        f"relay refused us: {exc.smtp_code} {text}".strip(),
        temporary=True,
        code=exc.smtp_code,
        enhanced=enhanced_status(text),
    )


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def make_backend(config: MailConfig) -> MailBackend:
    if config.backend == "smtp":
        return SmtpBackend(config)
    return MaildirBackend(config.maildir_path)
