"""Where composed messages go: a local Maildir (the embedded default) or an SMTP relay."""

from __future__ import annotations

import contextlib
import mailbox
import re
import smtplib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from digest.config import MailConfig


class DeliveryError(Exception):
    """Sending failed; `temporary` says whether trying again later may work."""

    def __init__(
        self,
        message: str,
        *,
        temporary: bool,
        code: int | None = None,
        enhanced: str = "",
        about_recipient: bool = False,
    ) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.code = code
        self.enhanced = enhanced
        # True when the server refused this recipient or this message (RCPT or DATA),
        # so the reply says something about the address; False for connection problems
        # and sender refusals, which are about us or the relay.
        self.about_recipient = about_recipient


class MailBackend(Protocol):
    def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Deliver or raise DeliveryError."""

    def close(self) -> None: ...


@runtime_checkable
class SplitSending(Protocol):
    """A backend that can send a message and collect the server's verdict separately,
    so the caller can prepare the next message in between."""

    def begin(self, sender: str, recipient: str, message: bytes) -> None: ...

    def finish(self) -> None: ...


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


def classify_smtp_code(code: int, text: str, *, about_recipient: bool = True) -> DeliveryError:
    """RFC 5321: 4xx is temporary, 5xx permanent; 552 is treated as 452 (RFC 5321
    section 4.5.3.1.10), because servers use it for transient quota problems."""
    enhanced = _enhanced_status(text)
    temporary = 400 <= code < 500 or code == 552
    return DeliveryError(
        f"{code} {text}".strip(),
        temporary=temporary,
        code=code,
        enhanced=enhanced,
        about_recipient=about_recipient,
    )


def _enhanced_status(text: str) -> str:
    head = text.split(" ", 1)[0]
    parts = head.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and parts[0] in ("2", "4", "5"):
        return head
    return ""


_LEADING_DOT = re.compile(rb"(?m)^\.")


class SmtpBackend:
    """One connection reused for up to `messages_per_connection` messages, opened again
    after the server closes it (smtplib itself closes the socket on a 421 reply)."""

    def __init__(self, config: MailConfig) -> None:
        self.config = config
        self._conn: smtplib.SMTP | None = None
        self._sent_on_conn = 0
        self.connections_opened = 0

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.smtp_ca_file or None)

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        conn: smtplib.SMTP
        if cfg.smtp_security == "tls":
            conn = smtplib.SMTP_SSL(
                cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout, context=self._tls_context()
            )
        else:
            conn = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout)
        try:
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
        self.begin(sender, recipient, message)
        self.finish()

    def begin(self, sender: str, recipient: str, message: bytes) -> None:
        """Send one message up to and including the end of DATA, without waiting for
        the server's verdict; `finish` reads it. In between the caller may prepare the
        next message while the server processes this one. One recipient per transaction
        (INJ-4): addresses go as separate arguments, never into hand-built commands."""
        with self._translate_errors():
            if self._conn is None or self._sent_on_conn >= self.config.messages_per_connection:
                self.close()
                self._conn = self._connect()
                self._sent_on_conn = 0
            self._sent_on_conn += 1
            conn = self._conn
            conn.ehlo_or_helo_if_needed()
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
            # As smtplib.SMTP.data: dot-stuffing, and the message ends with CRLF . CRLF.
            # (A scan first: the substitution costs 0.15 ms on a digest that has no dot
            # to stuff, the scan a hundredth of that.)
            stuff = message.startswith(b".") or b"\n." in message
            body = _LEADING_DOT.sub(b"..", message) if stuff else message
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            conn.send(body + b".\r\n")

    def finish(self) -> None:
        """The server's reply to the message sent by `begin`."""
        with self._translate_errors():
            if self._conn is None:
                raise smtplib.SMTPServerDisconnected("connection lost before the reply")
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
            self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
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
            # Timeouts, refused or dropped connections, TLS failures: nothing was accepted
            # (or we cannot know), so the message goes back to the queue.
            self._drop()
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
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()


def _about_us(exc: smtplib.SMTPResponseException) -> DeliveryError:
    text = _text(exc.smtp_error)
    return DeliveryError(
        f"relay refused us: {exc.smtp_code} {text}".strip(),
        temporary=True,
        code=exc.smtp_code,
        enhanced=_enhanced_status(text),
    )


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def make_backend(config: MailConfig) -> MailBackend:
    if config.backend == "smtp":
        return SmtpBackend(config)
    return MaildirBackend(config.maildir_path)
