"""Reading one returned message: a delivery status notification (RFC 3464), a complaint
(ARF, RFC 5965), an auto-reply, or something else.

Pure functions over bytes; nothing here touches the database. RFC 3464 is read with the
standard library, which keeps the status codes; flufl.bounce (Mailman's detectors) is the
fallback for bounces that are not RFC 3464 (qmail, old Exchange, ...), which give only
addresses, permanent or temporary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import parsedate_to_datetime
from typing import Literal

from flufl.bounce import all_failures

from digest.bounces.classify import find_status
from digest.mail import verp

Kind = Literal["dsn", "complaint", "autoreply", "unrecognised"]

# Where the envelope recipient (our VERP address) shows up when a bounce is read from a
# mailbox; Postfix writes the first two.
_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_MESSAGE_ID = re.compile(r"^Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
_ADDRESS = re.compile(r"<?([^<>\s;]+@[^<>\s;]+)>?")


@dataclass(frozen=True)
class Failure:
    """One recipient's outcome in a DSN."""

    recipient: str
    action: str  # failed, delayed, ... (RFC 3464)
    status: str  # 5.1.1 (RFC 3463); "" when unknown
    diagnostic: str = ""

    @property
    def smtp_code(self) -> int | None:
        match = re.search(r"\b([245]\d\d)\b", self.diagnostic)
        return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Report:
    kind: Kind
    verp_id: int | None = None  # the outbox row named by a well-signed VERP address
    forged: bool = False  # looked like our VERP address but the MAC was wrong
    original_message_id: str = ""
    failures: tuple[Failure, ...] = ()
    complaint_recipient: str = ""
    feedback_type: str = ""
    date: datetime | None = None


def parse(raw: bytes, secret_key: str) -> Report:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    verp_id, forged = _find_verp(msg, raw, secret_key)
    date = _date(msg)
    report_type = (msg.get_param("report-type", header="content-type") or "").__str__().lower()
    parts = {part.get_content_type(): part for part in msg.walk()}
    original_id = _original_message_id(parts)
    if "message/feedback-report" in parts or report_type == "feedback-report":
        fields = _fields(parts.get("message/feedback-report"))
        recipient = _strip(fields.get("original-rcpt-to", ""))
        returned = parts.get("message/rfc822") or parts.get("text/rfc822-headers")
        if not recipient and returned is not None:
            recipient = _strip(_returned_headers(returned).get("to", ""))
        return Report(
            "complaint",
            verp_id=verp_id,
            forged=forged,
            original_message_id=original_id,
            complaint_recipient=recipient,
            feedback_type=fields.get("feedback-type", "abuse").strip().lower(),
            date=date,
        )
    if "message/delivery-status" in parts:
        failures = tuple(_dsn_failures(parts["message/delivery-status"]))
        return Report(
            "dsn",
            verp_id=verp_id,
            forged=forged,
            original_message_id=original_id,
            failures=failures,
            date=date,
        )
    if _is_autoreply(msg):
        return Report("autoreply", verp_id=verp_id, forged=forged, date=date)
    temporary, permanent = all_failures(msg)
    failures = tuple(
        [Failure(a.decode("utf-8", "replace"), "failed", "", "flufl.bounce") for a in permanent]
        + [Failure(a.decode("utf-8", "replace"), "delayed", "", "flufl.bounce") for a in temporary]
    )
    if failures:
        if not original_id:
            match = _MESSAGE_ID.search(_body_text(msg))
            original_id = match.group(1) if match else ""
        return Report(
            "dsn",
            verp_id=verp_id,
            forged=forged,
            original_message_id=original_id,
            failures=tuple(_with_status_from_text(f, msg) for f in failures),
            date=date,
        )
    return Report("unrecognised", verp_id=verp_id, forged=forged, date=date)


def _find_verp(msg: EmailMessage, raw: bytes, secret_key: str) -> tuple[int | None, bool]:
    candidates = [str(v) for name in _ENVELOPE_HEADERS for v in (msg.get_all(name) or [])]
    text = "\n".join(candidates)
    found = verp.find_token(text, secret_key)
    if found is None:
        # Inside the report: X-Postfix-Sender, Original-Mail-From, the returned headers.
        text = raw.decode("utf-8", "replace")
        found = verp.find_token(text, secret_key)
    if found is not None:
        return found, False
    return None, verp.looks_like_verp(text)


def _date(msg: EmailMessage) -> datetime | None:
    try:
        value = parsedate_to_datetime(str(msg["Date"])) if msg["Date"] else None
    except (TypeError, ValueError):
        return None
    return value if value is not None and value.tzinfo is not None else None


def _strip(value: str) -> str:
    match = _ADDRESS.search(value or "")
    return match.group(1).strip().lower() if match else ""


def _blocks(part: Message) -> list[Message]:
    """A report part's header blocks, whether the parser split them or left text."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    return [HeaderParser().parsestr(str(payload))]


def _fields(part: Message | None) -> dict[str, str]:
    if part is None:
        return {}
    out: dict[str, str] = {}
    for block in _blocks(part):
        for name, value in block.items():
            out.setdefault(name.lower(), str(value))
    return out


def _dsn_failures(part: Message) -> list[Failure]:
    failures = []
    # Block 0 describes the message; each further block is one recipient.
    for block in _blocks(part)[1:]:
        recipient = _strip(str(block.get("Final-Recipient", "")).partition(";")[2])
        if not recipient:
            recipient = _strip(str(block.get("Original-Recipient", "")).partition(";")[2])
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        status = find_status(str(block.get("Status", ""))) or find_status(diagnostic)
        failures.append(
            Failure(
                recipient=recipient,
                action=str(block.get("Action", "")).strip().lower(),
                status=status,
                diagnostic=diagnostic,
            )
        )
    return failures


def _returned_headers(part: Message) -> dict[str, str]:
    blocks = _blocks(part)
    return {k.lower(): str(v) for k, v in blocks[0].items()} if blocks else {}


def _original_message_id(parts: Mapping[str, Message]) -> str:
    for kind in ("message/rfc822", "text/rfc822-headers"):
        part = parts.get(kind)
        if part is not None:
            value = _returned_headers(part).get("message-id", "").strip()
            if value:
                return value
    return ""


def _is_autoreply(msg: EmailMessage) -> bool:
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    subject = str(msg.get("Subject", "")).strip().lower()
    return (
        auto.startswith("auto-replied")
        or msg.get("X-Autoreply") is not None
        or msg.get("X-Autorespond") is not None
        or str(msg.get("Precedence", "")).strip().lower() == "auto_reply"
        or subject.startswith(("automatic reply", "auto:", "out of office", "autoreply"))
    )


def _body_text(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        return ""
    return content if isinstance(content, str) else ""


def _with_status_from_text(failure: Failure, msg: EmailMessage) -> Failure:
    """qmail and friends put `(#5.1.1)` next to the address in prose."""
    text = _body_text(msg)
    at = text.lower().find(failure.recipient.lower())
    status = find_status(text[at : at + 300]) if at >= 0 else ""
    return Failure(failure.recipient, failure.action, status, failure.diagnostic)
