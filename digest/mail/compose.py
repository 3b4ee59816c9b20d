"""Turn an outbox row into the exact message that goes on the wire.

Built with EmailMessage and the SMTP policy; every header value that could carry council
data goes through header_text first. Digests are stored once per council-week with link
placeholders, which are filled in here for each recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cached_property

from sqlalchemy.orm import Session

from digest.config import Config
from digest.links import Links, site_domain
from digest.mail import verp
from digest.mail.dkim import DkimSigner
from digest.mail.headers import header_text
from digest.mail.outbox import LIST_PURPOSES, MessagePurpose
from digest.models import Council, Digest, OutboxMessage

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
    message: EmailMessage
    signer: DkimSigner | None = None

    @cached_property
    def _wire(self) -> bytes:
        raw = self.message.as_bytes(policy=policy.SMTP)
        # Signed last, over these exact bytes; nothing may re-serialise them afterwards.
        return self.signer.sign(raw) if self.signer else raw

    def as_bytes(self) -> bytes:
        """The exact bytes to send: CRLF line endings, DKIM-signed when configured."""
        return self._wire


class Composer:
    def __init__(self, config: Config, links: Links) -> None:
        self.config = config
        self.links = links
        self.domain = site_domain(config.site.base_url, config.mail.from_address)
        self.signer = DkimSigner.from_config(config.mail)

    def list_id(self, council: Council) -> str:
        return f"{header_text(council.name, 120)} <{council.slug}.{self.domain}>"

    def compose(self, session: Session, row: OutboxMessage, now: datetime) -> Composed:
        council = session.get(Council, row.council_id) if row.council_id else None
        digest = session.get(Digest, row.digest_id) if row.digest_id else None
        subject, text, html = row.subject, row.body_text or "", row.body_html
        if digest is not None:
            subject = subject or digest.subject
            text, html = self._personalise(digest, row)
        cfg = self.config.mail
        msg = EmailMessage(policy=policy.SMTP)
        from_user, _, from_domain = cfg.from_address.partition("@")
        msg["From"] = Address(header_text(cfg.from_name, 80), from_user, from_domain)
        msg["To"] = row.recipient
        msg["Subject"] = header_text(subject, 200)
        msg["Date"] = format_datetime(now)
        msg["Message-ID"] = row.message_id
        if cfg.reply_to:
            msg["Reply-To"] = cfg.reply_to
        msg["Auto-Submitted"] = "auto-generated"
        if row.purpose in LIST_PURPOSES and council is not None and row.subscription_id:
            msg["List-Id"] = self.list_id(council)
            msg["List-Unsubscribe"] = f"<{self.links.unsubscribe(row.subscription_id)}>"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            msg["Precedence"] = "bulk"
            if row.purpose == MessagePurpose.WEEKLY_DIGEST:
                msg["List-Archive"] = f"<{self.links.url(f'/councils/{council.slug}/digests')}>"
            # Names groups of mail (kind, council, week), never a person.
            campaign = digest.week if digest is not None else "all"
            msg["Feedback-ID"] = (
                f"{campaign}:{row.purpose.replace('_', '-')}:{council.slug}:{FEEDBACK_SENDER_ID}"
            )
        msg.set_content(text, subtype="plain", charset="utf-8")
        if html:
            msg.add_alternative(html, subtype="html", charset="utf-8")
        return Composed(
            sender=self.envelope_sender(row),
            recipient=row.recipient,
            message=msg,
            signer=self.signer,
        )

    def envelope_sender(self, row: OutboxMessage) -> str:
        """VERP when a bounce domain is set: the bounce names this very row."""
        cfg = self.config.mail
        if cfg.bounce_domain and row.id is not None:
            return verp.address(self.config.site.secret_key, row.id, cfg.bounce_domain)
        return cfg.from_address

    def _personalise(self, digest: Digest, row: OutboxMessage) -> tuple[str, str]:
        unsubscribe = self.links.unsubscribe(row.subscription_id) if row.subscription_id else ""
        manage = self.links.manage(row.subscriber_id) if row.subscriber_id else ""
        replace = {UNSUBSCRIBE_PLACEHOLDER: unsubscribe, MANAGE_PLACEHOLDER: manage}
        text, html = digest.body_text, digest.body_html
        for placeholder, value in replace.items():
            text = text.replace(placeholder, value)
            html = html.replace(placeholder, value)
        return text, html
