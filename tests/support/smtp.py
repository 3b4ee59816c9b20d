"""A real SMTP server on loopback (aiosmtpd) that records what it receives and can be
told to fail in scripted ways."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: Any

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpSink:
    """Handler for aiosmtpd. `rcpt_reply` / `data_reply` may return an SMTP reply string
    to refuse a recipient or a message (e.g. "451 4.3.0 try later")."""

    messages: list[Received] = field(default_factory=list)
    rcpt_reply: Callable[[str], str | None] | None = None
    data_reply: Callable[[bytes, list[str]], str | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    host: str = "127.0.0.1"
    port: int = 0
    # Seconds to sit on a message before answering DATA (a slow server).
    data_delay: Callable[[list[str]], float] | None = None
    # Close the connection right after accepting a message (250 then close).
    close_after_data: bool = False
    # Seconds between the bytes of the start of the DATA reply (a trickled 250).
    data_trickle: float = 0.0
    # Recipients for which the server drops the connection at RCPT without a reply.
    drop_at_rcpt: Callable[[str], bool] | None = None
    rcpt_attempts: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self.lock:
            self.rcpt_attempts.append(address)
        if self.drop_at_rcpt is not None and self.drop_at_rcpt(address):
            server.transport.close()
            return "421 4.4.2 connection dropped"
        if self.rcpt_reply is not None:
            reply = self.rcpt_reply(address)
            if reply:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_delay is not None:
            await asyncio.sleep(self.data_delay(list(envelope.rcpt_tos)))
        if self.data_reply is not None:
            reply = self.data_reply(envelope.original_content, list(envelope.rcpt_tos))
            if reply:
                return reply
        with self.lock:
            self.messages.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content,
                    session.peer,
                )
            )
        if self.close_after_data:
            await server.push("250 2.0.0 Ok: queued")
            server.transport.close()
            return ""
        if self.data_trickle:
            for byte in b"250 2.0.0":
                server.transport.write(bytes([byte]))
                await asyncio.sleep(self.data_trickle)
            return " Ok: queued"
        return "250 2.0.0 Ok: queued"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.rcpt_tos]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} messages, got {len(self.messages)}")


def start_sink(sink: SmtpSink, **options: Any) -> Controller:
    """Start `sink` on a free loopback port; `options` go to aiosmtpd's Controller
    (tls_context, require_starttls, authenticator, ssl_context, ...)."""
    sink.port = free_port()
    controller = Controller(sink, hostname=sink.host, port=sink.port, **options)
    controller.start()
    return controller
