"""Reading one returned message: a delivery status notification (RFC 3464), a complaint
(ARF, RFC 5965), a bounce in some other format, an auto-reply, or something else.

Pure functions over bytes; nothing here touches the database. RFC 3464 is read with the
standard library, which keeps the status codes; flufl.bounce (Mailman's detectors) finds
the addresses in bounces that are not RFC 3464 (qmail, Exchange, Yahoo, ...), and the
prose next to each address is kept as its diagnostic so that `classify` can read it.
When our VERP return path names the message, a report no parser understands is still
read: the recipient is known from the message, and the text says what happened.

Every failure carries its verdict (`classify.Verdict`): the class is decided here, once,
from all the evidence the report holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import parsedate_to_datetime
from typing import Literal

from flufl.bounce import all_failures

from digest.bounces import classify
from digest.bounces.classify import Verdict
from digest.mail import verp
from digest.models import BounceKind

Kind = Literal["dsn", "complaint", "autoreply", "unrecognised"]

# Where the envelope recipient (our VERP address) shows up when a bounce is read from a
# mailbox; Postfix writes the first two.
_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_MESSAGE_ID = re.compile(r"^Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
# An address as RFC 5321 allows in practice (dot-atom local part, a dotted domain): JSON,
# quoted text and other junk around an "@" is not an address.
_ADDR_SPEC = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"  # noqa: E501
_ADDRESS_ONLY = re.compile(rf"^<?({_ADDR_SPEC})>?$")
_ANGLED = re.compile(rf"<({_ADDR_SPEC})>")
# Where a bounce's prose ends and the returned message begins.
_RETURNED_STARTS = re.compile(
    r"^(?:-+ ?(?:original message|below this line|this is a copy|returned message|"
    r"the (?:original|header)|undelivered message|message header|original headers|"
    r"headers of the|unsent message)|(?:received|return-path|message-id|dkim-signature|"
    r"list-unsubscribe): )",
    re.IGNORECASE | re.MULTILINE,
)
_WINDOW = 600
_UNKNOWN = Verdict(BounceKind.SOFT, "", "failure of unknown kind")
_TEXT_LIMIT = 4000


@dataclass(frozen=True)
class Failure:
    """One recipient's outcome in a report, with its verdict."""

    recipient: str  # "" when the report names nobody we can read (VERP still may)
    action: str  # failed, delayed, ... (RFC 3464); "" when the format has none
    status: str  # 5.1.1 (RFC 3463); "" when unknown
    diagnostic: str = ""
    verdict: Verdict = _UNKNOWN

    @property
    def smtp_code(self) -> int | None:
        return classify.find_reply_code(self.diagnostic)


@dataclass(frozen=True)
class Report:
    kind: Kind
    verp_id: int | None = None  # the outbox row named by a well-signed VERP address
    forged: bool = False  # looked like our VERP address but the MAC was wrong
    original_message_id: str = ""
    failures: tuple[Failure, ...] = ()
    complaint_recipients: tuple[str, ...] = ()
    feedback_type: str = ""
    date: datetime | None = None
    how: str = ""  # which reader understood it: dsn, arf, flufl.bounce, text

    @property
    def complaint_recipient(self) -> str:
        return self.complaint_recipients[0] if self.complaint_recipients else ""

    @property
    def complaint(self) -> Verdict:
        return classify.classify_complaint(self.feedback_type)


def parse(raw: bytes, secret_key: str) -> Report:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    verp_id, forged = _find_verp(msg, raw, secret_key)
    report_type = str(msg.get_param("report-type", header="content-type") or "").lower()
    parts: dict[str, Message] = {}
    for part in msg.walk():
        parts.setdefault(part.get_content_type(), part)
    base = Report(
        "unrecognised",
        verp_id=verp_id,
        forged=forged,
        date=_date(msg),
        original_message_id=_original_message_id(parts),
    )
    if "message/feedback-report" in parts or report_type == "feedback-report":
        return _complaint(parts, base)
    if "message/delivery-status" in parts:
        failures = tuple(_dsn_failures(parts["message/delivery-status"]))
        if failures:
            return replace(base, kind="dsn", failures=failures, how="dsn")
    text = _report_text(msg)
    if not base.original_message_id:
        match = _MESSAGE_ID.search(_body_text(msg))
        base = replace(base, original_message_id=match.group(1) if match else "")
    temporary, permanent = all_failures(msg)
    found = [(a, True) for a in permanent] + [(a, False) for a in temporary]
    failures = tuple(
        f
        for f in (
            _prose_failure(_address(a.decode("utf-8", "replace")), is_permanent, text)
            for a, is_permanent in found
        )
        if f.recipient
    )
    if failures:
        return replace(base, kind="dsn", failures=failures, how="flufl.bounce")
    # VERP first: the return path names our message, so the recipient is known whatever
    # the format; the text alone says what happened, if it reports a failure at all.
    if (verp_id is not None or base.original_message_id) and classify.looks_like_failure(text):
        return replace(base, kind="dsn", failures=(_prose_failure("", None, text),), how="text")
    if _is_autoreply(msg):
        return replace(base, kind="autoreply")
    return base


def _complaint(parts: Mapping[str, Message], base: Report) -> Report:
    fields = _all_fields(parts.get("message/feedback-report"))
    recipients = [_address(v) for v in fields.get("original-rcpt-to", [])]
    returned = parts.get("message/rfc822") or parts.get("text/rfc822-headers")
    if not any(recipients) and returned is not None:
        to = _returned_headers(returned).get("to", "")
        recipients = [_address(v) for v in to.split(",")]
    feedback_type = (fields.get("feedback-type") or ["abuse"])[0].strip().lower()
    return replace(
        base,
        kind="complaint",
        complaint_recipients=tuple(dict.fromkeys(r for r in recipients if r)),
        feedback_type=feedback_type,
        how="arf",
    )


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


def _address(value: str) -> str:
    """The address in a header value such as "rfc822; <a@b.example>", "a@b.example" or
    "Name <a@b.example>", lower-cased; "" when the value holds no plain address."""
    value = (value or "").strip()
    kind, sep, rest = value.partition(";")
    if sep and re.fullmatch(r"[A-Za-z0-9-]+", kind.strip()):
        value = rest.strip()  # "rfc822; a@b" (the type is optional in practice)
    value = value.strip().strip('"').strip()
    match = _ADDRESS_ONLY.match(value) or _ANGLED.search(value)
    return match.group(1).lower() if match else ""


def _blocks(part: Message) -> list[Message]:
    """A report part's header blocks, whether the parser split them or left text.

    Blocks are separated by blank lines, and some MTAs write the separator with a space
    in it, which a header parser reads as a continuation line: such text is split again
    at every line that holds only white space."""
    payload = part.get_payload()
    if isinstance(payload, list):
        text = "\n".join(
            block.as_string(policy=policy.compat32) if isinstance(block, Message) else ""
            for block in payload
        )
    else:
        text = str(payload)
    chunks = re.split(r"\n[ \t]*\r?\n", text.replace("\r\n", "\n"))
    return [HeaderParser().parsestr(chunk.strip("\n") + "\n") for chunk in chunks if chunk.strip()]


def _all_fields(part: Message | None) -> dict[str, list[str]]:
    if part is None:
        return {}
    out: dict[str, list[str]] = {}
    for block in _blocks(part):
        for name, value in block.items():
            out.setdefault(name.lower(), []).append(" ".join(str(value).split()))
    return out


def _dsn_failures(part: Message) -> list[Failure]:
    failures = []
    # Per-recipient blocks are those naming a recipient or an action; the per-message
    # block (Reporting-MTA, Arrival-Date) names neither.
    for block in _blocks(part):
        if not any(block.get(f) for f in ("Final-Recipient", "Original-Recipient", "Action")):
            continue
        # The address as we sent it, when the MTA kept it (ORCPT): the final one may be
        # an alias's target that we have never heard of.
        recipient = _address(str(block.get("Original-Recipient", ""))) or _address(
            str(block.get("Final-Recipient", ""))
        )
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        action = str(block.get("Action", "")).strip().lower()
        status_field = " ".join(str(block.get("Status", "")).split())
        if status_field and status_field != classify.find_status(status_field):
            # "Status: 553 Exceeded maximum inbound message size": words, not a code.
            diagnostic = f"{status_field} {diagnostic}".strip()
        verdict = classify.classify(action=action, status=status_field, diagnostic=diagnostic)
        failures.append(
            Failure(
                recipient=recipient,
                action=action,
                status=verdict.status or classify.find_status(status_field),
                diagnostic=diagnostic,
                verdict=verdict,
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
    part = msg.get_body(("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        return ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = re.sub(r"(?s)<(script|style).*?</\1>|<[^>]+>", " ", content)
    return content


def _report_text(msg: EmailMessage) -> str:
    """The bounce's own words: its first text part, cut where the returned message
    begins (the returned digest's words must not count as the receiver's)."""
    text = _body_text(msg)
    if not text and not msg.is_multipart():
        payload = msg.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    cut = _RETURNED_STARTS.search(text)
    if cut is not None and cut.start() > 0:
        text = text[: cut.start()]
    return text[:_TEXT_LIMIT]


def _prose_failure(recipient: str, is_permanent: bool | None, text: str) -> Failure:
    """A failure from a report without RFC 3464 fields: the text after the address (or
    all of it) is its diagnostic."""
    at = text.lower().find(recipient.lower()) if recipient else -1
    window = text[at : at + _WINDOW] if at >= 0 else text
    diagnostic = " ".join(window.split())
    verdict = classify.classify(
        action="" if is_permanent is None else ("failed" if is_permanent else "delayed"),
        diagnostic=diagnostic,
        permanent=is_permanent,
    )
    return Failure(
        recipient=recipient,
        action="" if is_permanent is None else ("failed" if is_permanent else "delayed"),
        status=verdict.status,
        diagnostic=diagnostic[:1000],
        verdict=verdict,
    )
