"""Where composed messages go: a local Maildir (the embedded default) or an SMTP relay."""

from __future__ import annotations

import contextlib
import mailbox
import smtplib
import ssl
from pathlib import Path
from typing import Protocol

from digest.config import MailConfig


class DeliveryError(Exception):
    """Sending failed; `temporary` says whether trying again later may work."""

    def __init__(
        self, message: str, *, temporary: bool, code: int | None = None, enhanced: str = ""
    ) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.code = code
        self.enhanced = enhanced


class MailBackend(Protocol):
    def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Deliver or raise DeliveryError."""

    def close(self) -> None: ...


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


def classify_smtp_code(code: int, text: str) -> DeliveryError:
    """RFC 5321: 4xx is temporary, 5xx permanent; 552 is treated as 452 (RFC 5321
    section 4.5.3.1.10), because servers use it for transient quota problems."""
    enhanced = _enhanced_status(text)
    temporary = 400 <= code < 500 or code == 552
    return DeliveryError(
        f"{code} {text}".strip(), temporary=temporary, code=code, enhanced=enhanced
    )


def _enhanced_status(text: str) -> str:
    head = text.split(" ", 1)[0]
    parts = head.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and parts[0] in ("2", "4", "5"):
        return head
    return ""


class SmtpBackend:
    """One connection reused for up to `messages_per_connection` messages."""

    def __init__(self, config: MailConfig) -> None:
        self.config = config
        self._conn: smtplib.SMTP | None = None
        self._sent_on_conn = 0

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        context = ssl.create_default_context()
        conn: smtplib.SMTP
        if cfg.smtp_security == "tls":
            conn = smtplib.SMTP_SSL(
                cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout, context=context
            )
        else:
            conn = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout)
            if cfg.smtp_security == "starttls":
                conn.starttls(context=context)
        if cfg.smtp_username:
            conn.login(cfg.smtp_username, cfg.smtp_password)
        return conn

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        try:
            if self._conn is None or self._sent_on_conn >= self.config.messages_per_connection:
                self.close()
                self._conn = self._connect()
                self._sent_on_conn = 0
            self._sent_on_conn += 1
            self._conn.sendmail(sender, [recipient], message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise classify_smtp_code(code, _text(text)) from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:
                self._drop()
            raise classify_smtp_code(exc.smtp_code, _text(exc.smtp_error)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise DeliveryError(f"connection problem: {exc}", temporary=True) from exc

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


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def make_backend(config: MailConfig) -> MailBackend:
    if config.backend == "smtp":
        return SmtpBackend(config)
    return MaildirBackend(config.maildir_path)
