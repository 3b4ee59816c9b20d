"""Turn an outbox row into the exact message that goes on the wire.

Built with EmailMessage and the SMTP policy; every header value that could carry council
data goes through header_text first. Digests are stored once per council-week with link
placeholders, which are filled in here for each recipient.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.addresses import smtp_address
from digest.config import Config
from digest.links import Links
from digest.mail import verp
from digest.mail.dkim import DkimSigner, SignedHead, canonical_body_hash
from digest.mail.encoded_once import EncodedOnce
from digest.mail.headers import header_text
from digest.mail.hooks import SendTimeRenderer
from digest.mail.outbox import LIST_PURPOSES, RENDERED_AT_SEND_TIME, MessagePurpose
from digest.mail.wire import WIRE_POLICY, serialise, set_raw, set_text, text_part
from digest.models import Council, Digest, OutboxMessage, Subscriber, Subscription
from digest.site import Site

# Stand-ins for per-recipient links inside a stored digest. Plain ASCII that neither
# Jinja escaping nor CSS inlining alters.
UNSUBSCRIBE_PLACEHOLDER = "https://link.invalid/unsubscribe-placeholder"
MANAGE_PLACEHOLDER = "https://link.invalid/manage-placeholder"


# Gmail's feedback loop groups complaints by this; 5-15 characters, stable forever.
FEEDBACK_SENDER_ID = "councildigest"


@dataclass(frozen=True)
class Composed:
    sender: str  # SMTP envelope sender
    recipient: str
    message: EmailMessage | None = None
    signer: DkimSigner | None = None
    # The serialised message when it was built from a per-digest template.
    prebuilt: bytes | None = None
    # DKIM's body hash of `prebuilt`, when it was worked out while building it.
    body_hash: bytes | None = None
    # And its head, canonicalised for DKIM from the digest's template.
    signed_head: SignedHead | None = None
    # Set by sign_in: gives the signed bytes once the private-key operation is done.
    _signing: list[Callable[[], bytes]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    def _unsigned(self) -> bytes:
        if self.prebuilt is not None:
            return self.prebuilt
        assert self.message is not None
        return serialise(self.message)

    @cached_property
    def _wire(self) -> bytes:
        if self._signing:
            return self._signing[0]()
        raw = self._unsigned()
        # Signed last, over these exact bytes; nothing may re-serialise them afterwards.
        if self.signer is None:
            return raw
        return self.signer.sign(raw, bh=self.body_hash, head=self.signed_head)

    def sign_in(self, pool: Executor) -> None:
        """Serialise now and start signing, with the private-key operation in `pool`;
        `as_bytes` then waits for it."""
        if self.signer is not None and not self._signing and "_wire" not in self.__dict__:
            self._signing.append(
                self.signer.sign_in(
                    pool, self._unsigned(), bh=self.body_hash, head=self.signed_head
                )
            )

    def as_bytes(self) -> bytes:
        """The exact bytes to send: CRLF line endings, DKIM-signed when configured."""
        return self._wire


# Values that differ per recipient of a digest are built into a template as these and
# replaced in the serialised bytes. Printable ASCII without spaces, so header folding
# never splits them; the date is a real date because the Date header is parsed.
_TEMPLATE_DATE = datetime(2001, 1, 1, tzinfo=UTC)
_SAFE_VALUE = re.compile(r"[\x21-\x7e]+")


# Read afresh for every message: the recipient's link secret (for the manage and
# unsubscribe links) and what decides whether a cached digest and its template are still
# current. When delivering, these ride in the send-time check's query (digest.mail.checks).
_DIGEST_OF_ROW = Digest.id == sa.bindparam("digest_id")


def _of_the_digests_council(column: Any) -> Any:
    return (
        sa.select(column)
        .join(Digest, Digest.council_id == Council.id)
        .where(_DIGEST_OF_ROW)
        .scalar_subquery()
    )


CURRENT = (
    sa.select(Subscriber.link_secret)
    .where(Subscriber.id == sa.bindparam("subscriber_id"))
    .scalar_subquery(),
    sa.select(Subscriber.link_secret)
    .join(Subscription, Subscription.subscriber_id == Subscriber.id)
    .where(Subscription.id == sa.bindparam("subscription_id"))
    .scalar_subquery(),
    sa.select(Digest.built_at).where(_DIGEST_OF_ROW).scalar_subquery(),
    _of_the_digests_council(Council.name),
    _of_the_digests_council(Council.slug),
)
_CURRENT = sa.select(*CURRENT)


def current_parameters(row: OutboxMessage) -> dict[str, int]:
    """The bound values `CURRENT` reads for `row`."""
    return {
        "subscriber_id": row.subscriber_id or 0,
        "subscription_id": row.subscription_id or 0,
        "digest_id": row.digest_id or 0,
    }


@dataclass(frozen=True)
class Current:
    """What `CURRENT` found for a message."""

    link_secret: str
    # (built_at, council name, council slug); None when the digest is gone.
    digest_version: tuple[Any, ...] | None

    @classmethod
    def of(cls, row: OutboxMessage, values: Sequence[Any]) -> Current:
        by_subscriber, by_subscription, built_at, name, slug = values
        secret = by_subscriber if row.subscriber_id else by_subscription
        version = (built_at, name, slug) if built_at is not None and name is not None else None
        return cls(str(secret or ""), version)

    @classmethod
    def read(cls, session: Session, row: OutboxMessage) -> Current:
        return cls.of(row, session.connection().execute(_CURRENT, current_parameters(row)).one())


@dataclass(frozen=True)
class _Template:
    head: bytes  # the serialised header block with placeholders, blank line included
    # In the head: To, Message-ID, Date and the unsubscribe link's stand-ins, in order.
    placeholders: tuple[bytes, ...]
    body: EncodedOnce  # the text and HTML parts, with the link placeholders
    # The head canonicalised for DKIM with the same placeholders (None: no signing).
    signed: SignedHead | None

    def filled(
        self, to: bytes, message_id: bytes, date: bytes, unsubscribe: bytes
    ) -> tuple[bytes, SignedHead | None]:
        """The head with this recipient's values, and its DKIM canonical form."""
        values = tuple(zip(self.placeholders, (to, message_id, date, unsubscribe), strict=True))
        head = self.head
        for placeholder, value in values:
            head = head.replace(placeholder, value, 1)
        return head, self.signed.filled(values) if self.signed is not None else None


class Composer:
    def __init__(
        self, config: Config, links: Links, render_at_send_time: SendTimeRenderer | None = None
    ) -> None:
        self.config = config
        self.links = links
        self.domain = Site.from_config(config).domain
        self.signer = DkimSigner.from_config(config.mail)
        # Writes the emails queued without a body (digest.mail.hooks).
        self.render_at_send_time = render_at_send_time
        self._templates: dict[tuple[int, datetime, str, str], _Template] = {}
        self._digests: dict[int, tuple[tuple[Any, ...], Digest, Council]] = {}

    def list_id(self, council: Council) -> str:
        return f"{header_text(council.name, 120)} <{council.slug}.{self.domain}>"

    def compose(
        self, session: Session, row: OutboxMessage, now: datetime, current: Current | None = None
    ) -> Composed:
        """The message for `row`. Raises NotNeeded when it no longer applies, InvalidEmail
        for a recipient no relay could take; anything else it raises is a bug the
        delivery loop records on this message alone."""
        recipient = smtp_address(row.recipient)
        if current is None:
            current = Current.read(session, row)
        secret = current.link_secret
        council: Council | None = None
        digest: Digest | None = None
        if row.digest_id:
            found = self._digest(session, row.digest_id, current.digest_version)
            if found is not None:
                digest, council = found
        elif row.council_id:
            council = session.get(Council, row.council_id)
        if (
            digest is not None
            and council is not None
            and row.subscription_id
            and row.purpose == MessagePurpose.WEEKLY_DIGEST
            and not row.subject
            and all(_SAFE_VALUE.fullmatch(v) for v in (recipient, row.message_id))
        ):
            return self._from_template(digest, council, row, now, recipient, secret)
        subject, text, html = row.subject, row.body_text or "", row.body_html
        if row.body_text is None and row.purpose in RENDERED_AT_SEND_TIME:
            if self.render_at_send_time is None:
                raise RuntimeError(f"no send-time renderer for {row.purpose}")
            # Raises NotNeeded when the message no longer applies.
            rendered = self.render_at_send_time(session, row, now)
            subject, text, html = rendered.subject, rendered.text, rendered.html
        if digest is not None:
            subject = subject or digest.subject
            text, html = self._personalise(digest.body_text, digest.body_html, row, secret)
        elif UNSUBSCRIBE_PLACEHOLDER in text or MANAGE_PLACEHOLDER in text:
            # Mail rendered once for many recipients (a council going live).
            text, personal_html = self._personalise(text, html or "", row, secret)
            html = personal_html if html else None
        unsubscribe = (
            self.links.unsubscribe(row.subscription_id, secret)
            if row.purpose in LIST_PURPOSES and council is not None and row.subscription_id
            else None
        )
        if row.purpose == MessagePurpose.WATCH_ALERT and row.watch_id:
            # A topic watch is a list of its own: one-click unsubscribe stops the watch.
            unsubscribe = self.links.watch_unsubscribe(row.watch_id)
        msg = self._build(
            purpose=row.purpose,
            council=council,
            digest=digest,
            to=recipient,
            subject=subject,
            date=now,
            message_id=row.message_id,
            unsubscribe=unsubscribe,
            parts=[("plain", text), ("html", html)] if html else [("plain", text)],
        )
        return Composed(
            sender=self.envelope_sender(row),
            recipient=recipient,
            message=msg,
            signer=self.signer,
        )

    def _digest(
        self, session: Session, digest_id: int, version: tuple[Any, ...] | None
    ) -> tuple[Digest, Council] | None:
        """The digest and its council, loaded once per worker and reused while the digest
        and the council's name are unchanged (`version`, read for every message, so a
        rebuilt digest is picked up at once)."""
        cached = self._digests.get(digest_id)
        if version is None:
            return None
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        digest = session.get_one(Digest, digest_id)
        council = session.get_one(Council, digest.council_id)
        if len(self._digests) > 256:
            self._digests.clear()
        self._digests[digest_id] = (version, digest, council)
        return digest, council

    def _build(
        self,
        *,
        purpose: str,
        council: Council | None,
        digest: Digest | None,
        to: str,
        subject: str,
        date: datetime,
        message_id: str,
        unsubscribe: str | None,
        parts: list[tuple[str, str]],
    ) -> EmailMessage:
        cfg = self.config.mail
        msg = EmailMessage(policy=policy.SMTP)
        from_user, _, from_domain = cfg.from_address.partition("@")
        msg["From"] = Address(header_text(cfg.from_name, 80), from_user, from_domain)
        msg["To"] = to
        msg["Subject"] = header_text(subject, 200)
        msg["Date"] = format_datetime(date)
        set_raw(msg, "Message-ID", message_id)
        if cfg.reply_to:
            msg["Reply-To"] = cfg.reply_to
        msg["Auto-Submitted"] = "auto-generated"
        if unsubscribe is not None and council is None:
            msg["List-Id"] = f"Topic watch <watch.{self.domain}>"
            set_raw(msg, "List-Unsubscribe", f"<{unsubscribe}>")
            set_raw(msg, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
            msg["Precedence"] = "bulk"
            msg["Feedback-ID"] = f"all:{purpose.replace('_', '-')}:watch:{FEEDBACK_SENDER_ID}"
        if unsubscribe is not None and council is not None:
            msg["List-Id"] = self.list_id(council)
            set_raw(msg, "List-Unsubscribe", f"<{unsubscribe}>")
            set_raw(msg, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
            msg["Precedence"] = "bulk"
            if purpose == MessagePurpose.WEEKLY_DIGEST:
                archive = self.links.url(f"/councils/{council.slug}/digests")
                set_raw(msg, "List-Archive", f"<{archive}>")
            # Names groups of mail (kind, council, week), never a person.
            campaign = digest.week if digest is not None else "all"
            msg["Feedback-ID"] = (
                f"{campaign}:{purpose.replace('_', '-')}:{council.slug}:{FEEDBACK_SENDER_ID}"
            )
        msg["MIME-Version"] = "1.0"
        if len(parts) > 1:
            msg.make_alternative()
            for subtype, text in parts:
                msg.attach(text_part(subtype, text))
        else:
            set_text(msg, *parts[0])
        return msg

    def _from_template(
        self,
        digest: Digest,
        council: Council,
        row: OutboxMessage,
        now: datetime,
        recipient: str,
        secret: str,
    ) -> Composed:
        """A digest goes to thousands of people and differs between them only in To,
        Date, Message-ID, the unsubscribe link and the links in the body. Build and
        serialise the message once per digest, then fill those in: the email package's
        header handling is far slower than sending the message."""
        key = (digest.id, digest.built_at, council.name, council.slug)
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) > 64:
                self._templates.clear()
            template = self._templates[key] = self._make_template(digest, council)
        unsubscribe = self.links.unsubscribe(row.subscription_id or 0, secret)
        body = template.body.fill(self._links(row, secret, unsubscribe))
        head, signed = template.filled(
            recipient.encode(),
            row.message_id.encode(),
            format_datetime(now).encode(),
            unsubscribe.encode(),
        )
        return Composed(
            sender=self.envelope_sender(row),
            recipient=recipient,
            signer=self.signer,
            prebuilt=head + body.wire,
            body_hash=canonical_body_hash(body.canonical) if self.signer else None,
            signed_head=signed,
        )

    def _make_template(self, digest: Digest, council: Council) -> _Template:
        nonce = secrets.token_hex(8)
        to = f"cd-to-{nonce}@placeholder.invalid"
        message_id = f"<cd-id-{nonce}@{self.domain}>"
        unsubscribe = self.links.url(f"/unsubscribe/cd-unsubscribe-{nonce}")
        bodies = (f"cd-text-{nonce}", f"cd-html-{nonce}")
        msg = self._build(
            purpose=MessagePurpose.WEEKLY_DIGEST,
            council=council,
            digest=digest,
            to=to,
            subject=digest.subject,
            date=_TEMPLATE_DATE,
            message_id=message_id,
            unsubscribe=unsubscribe,
            parts=[("plain", "x"), ("html", "x")],
        )
        for part, marker in zip(msg.iter_parts(), bodies, strict=True):
            part.set_payload(marker)
        whole = msg.as_bytes(policy=WIRE_POLICY)
        date = f"Date: {format_datetime(_TEMPLATE_DATE)}".encode()
        head, separator, mime = whole.partition(b"\r\n\r\n")
        head += separator
        placeholders = [to, message_id, unsubscribe]
        if (
            head.count(date) != 1
            or any(head.count(p.encode()) != 1 for p in placeholders)
            or any(mime.count(b.encode()) != 1 for b in bodies)
        ):
            raise RuntimeError("digest template placeholders did not survive serialisation")
        # The MIME structure around the two bodies: [before the text, text, between, HTML,
        # after].
        before, _, rest = mime.partition(bodies[0].encode())
        between, _, after = rest.partition(bodies[1].encode())
        stand_ins = tuple(
            value.encode()
            for value in (to, message_id, format_datetime(_TEMPLATE_DATE), unsubscribe)
        )
        return _Template(
            head=head,
            placeholders=stand_ins,
            signed=SignedHead.of(head, stand_ins) if self.signer else None,
            body=EncodedOnce(
                [before, digest.body_text, between, digest.body_html, after],
                (UNSUBSCRIBE_PLACEHOLDER, MANAGE_PLACEHOLDER),
            ),
        )

    def envelope_sender(self, row: OutboxMessage) -> str:
        """VERP when a bounce domain is set: the bounce names this very row."""
        cfg = self.config.mail
        if cfg.bounce_domain and row.id is not None:
            return verp.address(self.config.site.secret_key, row.id, cfg.bounce_domain)
        return cfg.from_address

    def _personalise(
        self,
        text: str,
        html: str,
        row: OutboxMessage,
        secret: str,
    ) -> tuple[str, str]:
        """This recipient's unsubscribe and manage links in place of the placeholders."""
        for placeholder, value in self._links(row, secret).items():
            text = text.replace(placeholder, value)
            html = html.replace(placeholder, value)
        return text, html

    def _links(
        self, row: OutboxMessage, secret: str, unsubscribe: str | None = None
    ) -> dict[str, str]:
        """This recipient's links, by the placeholder they replace."""
        if unsubscribe is None:
            unsubscribe = (
                self.links.unsubscribe(row.subscription_id, secret) if row.subscription_id else ""
            )
        manage = self.links.manage(row.subscriber_id, secret) if row.subscriber_id else ""
        return {UNSUBSCRIBE_PLACEHOLDER: unsubscribe, MANAGE_PLACEHOLDER: manage}
