"""What arrives at a real SMTP server: the headers of SPEC section 9, a DKIM signature that
two independent verifiers accept (dkimpy and Perl's Mail::DKIM) and that breaks when a
list header is added or changed, VERP, and a SpamAssassin score below 1."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import dkim
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from dkim.util import parse_tag_value

from digest import councils
from digest.mail import verp
from digest.mail.dkim import OVERSIGNED, ed25519_dns_record
from digest.models import OutboxMessage, Subscription
from digest.runtime import Runtime
from tests.integration.helpers import confirm_subscription, pending_subscription
from tests.support.digests import enqueue_digest, make_digest
from tests.support.mail import body, links
from tests.support.mailtools import perl_dkim_verify, spamassassin
from tests.support.smtp import Received, SmtpSink

DOMAIN = "councildigest.example.org"
SELECTOR = "s2026a"
BOUNCE_DOMAIN = "bounces.councildigest.example.org"


@dataclass(frozen=True)
class DkimKey:
    path: Path
    txt: str

    def dnsfunc(self, name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
        return self.txt.encode()


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> DkimKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("dkim") / "private.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DkimKey(path, "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode())


@dataclass(frozen=True)
class Delivered:
    confirmation: Received
    welcome: Received
    digest: Received
    rows: dict[str, OutboxMessage]


@pytest.fixture
def delivered(smtp_rt: Runtime, smtp_sink: SmtpSink, dkim_key: DkimKey) -> Delivered:
    return deliver_three(smtp_rt, smtp_sink, dkim_key)


def deliver_three(
    smtp_rt: Runtime, smtp_sink: SmtpSink, dkim_key: DkimKey, **mail: str
) -> Delivered:
    """A confirmation, a welcome and a weekly digest, sent through the real engine."""
    config = smtp_rt.config.replace(
        mail={
            "dkim_domain": DOMAIN,
            "dkim_selector": SELECTOR,
            "dkim_private_key_path": str(dkim_key.path),
            "bounce_domain": BOUNCE_DOMAIN,
            **mail,
        }
    )
    rt = Runtime.from_config(config, engine=smtp_rt.engine)
    rt.clock = smtp_rt.clock
    subscription_id = pending_subscription(rt, "resident@example.net", "wigan")
    backend = rt.mail_backend()
    rt.deliverer(backend).run_until_empty()  # the confirmation email
    confirm_subscription(rt, subscription_id)
    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, "wigan")
        assert council is not None
        digest = make_digest(session, council, "2026-W48", rt.now())
        subscription = session.get_one(Subscription, subscription_id)
        enqueue_digest(session, digest, subscription, "resident@example.net", rt.now())
    assert rt.deliverer(backend).run_until_empty().sent == 2
    backend.close()
    with rt.read_sessions() as session:
        rows = {m.purpose: m for m in session.scalars(sa.select(OutboxMessage))}
    by_id = {str(m.message["Message-ID"]): m for m in smtp_sink.messages}
    return Delivered(
        confirmation=by_id[rows["confirm_subscription"].message_id],
        welcome=by_id[rows["welcome"].message_id],
        digest=by_id[rows["weekly_digest"].message_id],
        rows=rows,
    )


def signature_tags(raw: bytes) -> dict[bytes, bytes]:
    header = raw.split(b"\r\n\r\n", 1)[0]
    match = re.search(rb"^DKIM-Signature:(.*?)\r\n(?![ \t])", header, re.S | re.M)
    assert match, "no DKIM-Signature"
    tags: dict[bytes, bytes] = parse_tag_value(re.sub(rb"\s+", b"", match.group(1)))
    return tags


def test_every_message_verifies_with_mail_dkim(
    delivered: Delivered, dkim_key: DkimKey, tmp_path: Path
) -> None:
    """An independent implementation, so dkimpy cannot sign and verify the same mistake."""
    for received in (delivered.confirmation, delivered.welcome, delivered.digest):
        ok, output = perl_dkim_verify(received.data, dkim_key.txt, tmp_path)
        assert ok, output


def test_every_message_verifies_with_dkimpy(delivered: Delivered, dkim_key: DkimKey) -> None:
    for received in (delivered.confirmation, delivered.welcome, delivered.digest):
        raw = received.data
        assert raw.startswith(b"DKIM-Signature:")
        assert dkim.verify(raw, dnsfunc=dkim_key.dnsfunc)
        tags = signature_tags(raw)
        assert tags[b"a"] == b"rsa-sha256" and tags[b"c"] == b"relaxed/relaxed"
        assert b"l" not in tags and tags[b"d"] == DOMAIN.encode() and tags[b"s"] == b"s2026a"
        signed = tags[b"h"].lower().split(b":")
        present = [name.lower().encode() for name in received.message if name != "DKIM-Signature"]
        for name in OVERSIGNED:
            # Listed once more than it occurs: an added copy cannot verify.
            assert signed.count(name.encode()) == present.count(name.encode()) + 1, name
        for name in (b"from", b"to", b"subject", b"date", b"message-id", b"mime-version"):
            assert name in signed


def test_ed25519_dual_signature_verifies_with_both_verifiers(
    smtp_rt: Runtime, smtp_sink: SmtpSink, dkim_key: DkimKey, tmp_path: Path
) -> None:
    """RFC 8463: with an Ed25519 key configured every message carries two signatures; each
    verifies on its own with dkimpy. Debian's Mail::DKIM (1.20230212) does not know
    Ed25519, which is what the dual signature is for: it passes the message on the RSA
    signature and sets the other aside as unsupported, not failed."""
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_path = tmp_path / "ed25519.pem"
    ed_path.write_bytes(
        ed_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ed_txt = ed25519_dns_record(ed_path.read_bytes())
    delivered = deliver_three(
        smtp_rt,
        smtp_sink,
        dkim_key,
        dkim_ed25519_selector="e2026a",
        dkim_ed25519_key_path=str(ed_path),
    )
    records = {b"s2026a": dkim_key.txt.encode(), b"e2026a": ed_txt.encode()}

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return records[name.split(b".", 1)[0]]

    both = f"s2026a\t{dkim_key.txt}\ne2026a\t{ed_txt}\n"
    for received in (delivered.confirmation, delivered.welcome, delivered.digest):
        raw = received.data
        algorithms = []
        for idx in (0, 1):
            checker = dkim.DKIM(raw)
            assert checker.verify(idx=idx, dnsfunc=dnsfunc), idx
            algorithms.append(checker.signature_fields[b"a"])
        assert algorithms == [b"rsa-sha256", b"ed25519-sha256"]
        ok, output = perl_dkim_verify(raw, both, tmp_path)
        assert ok, output
        assert "a=rsa-sha256 result=pass" in output, output
        assert "a=ed25519-sha256 result=invalid detail=invalid (unsupported algorithm" in output


def test_list_headers_are_signed_so_tampering_breaks_the_signature(
    delivered: Delivered, dkim_key: DkimKey
) -> None:
    raw = delivered.digest.data
    signed = signature_tags(raw)[b"h"].lower().split(b":")
    for name in (b"list-id", b"list-unsubscribe", b"list-unsubscribe-post", b"feedback-id"):
        assert signed.count(name) == 2, name
    evil = b"List-Unsubscribe: <https://evil.example/x>\r\n"
    added = raw.replace(b"\r\nFrom:", b"\r\n" + evil + b"From:", 1)
    assert added != raw
    assert not dkim.verify(added, dnsfunc=dkim_key.dnsfunc)
    unsubscribe = str(delivered.digest.message["List-Unsubscribe"])
    token = unsubscribe.rsplit("/", 1)[1].rstrip(">")
    altered = raw.replace(token.encode(), b"x" + token[1:].encode())
    assert altered != raw and not dkim.verify(altered, dnsfunc=dkim_key.dnsfunc)
    assert not dkim.verify(raw.replace(b"One-Click", b"one-click"), dnsfunc=dkim_key.dnsfunc)
    # A confirmation carries no List-Unsubscribe, and the signature covers its absence.
    confirmation = delivered.confirmation.data
    assert not dkim.verify(evil + confirmation, dnsfunc=dkim_key.dnsfunc)


def test_mail_dkim_also_rejects_an_added_list_unsubscribe(
    delivered: Delivered, dkim_key: DkimKey, tmp_path: Path
) -> None:
    raw = delivered.digest.data
    evil = b"List-Unsubscribe: <https://evil.example/x>\r\n"
    added = raw.replace(b"\r\nFrom:", b"\r\n" + evil + b"From:", 1)
    ok, output = perl_dkim_verify(added, dkim_key.txt, tmp_path)
    assert not ok and "result=fail" in output


def test_digest_headers_and_structure(delivered: Delivered, smtp_rt: Runtime) -> None:
    received = delivered.digest
    raw, msg = received.data, received.message
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "List-Id"):
        assert len(msg.get_all(name) or []) == 1, name
    assert parsedate_to_datetime(str(msg["Date"])).tzinfo is not None
    row = delivered.rows["weekly_digest"]
    assert str(msg["Message-ID"]) == row.message_id
    assert re.fullmatch(rf"<[0-9a-f]{{26}}@{re.escape(DOMAIN)}>", row.message_id)
    assert str(msg["List-Id"]) == f"Wigan Metropolitan Borough Council <wigan.{DOMAIN}>"
    unsubscribe = str(msg["List-Unsubscribe"])
    urls = re.findall(r"<([^>]+)>", unsubscribe)
    assert len(urls) == 1 and urls[0].startswith(f"https://{DOMAIN}/unsubscribe/")
    assert "@" not in urls[0] and "resident" not in urls[0]
    assert msg.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    # Written as is: a long URL must not become RFC 2047 encoded words.
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert f"\r\nList-Unsubscribe: {unsubscribe}\r\n".encode() in head
    assert f"\r\nMessage-ID: {row.message_id}\r\n".encode() in head
    assert b"=?" not in head
    assert str(msg["Auto-Submitted"]) == "auto-generated"
    assert str(msg["Precedence"]) == "bulk"
    assert re.fullmatch(r"2026-W48:weekly-digest:wigan:councildigest", str(msg["Feedback-ID"]))
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert urls[0] in links(body(msg, "plain")) and f'href="{urls[0]}"' in body(msg, "html")
    assert "link.invalid" not in body(msg, "plain") + body(msg, "html")
    assert len(body(msg, "html").encode()) < 100_000
    # Wire format: CRLF only, no line over 998 octets.
    assert b"\r" not in raw.replace(b"\r\n", b"") and b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    # VERP: the envelope sender names this row, signed, and survives case folding.
    assert received.rcpt_tos == ["resident@example.net"]
    local, _, domain = received.mail_from.partition("@")
    assert domain == BOUNCE_DOMAIN and len(local) <= 64
    secret = smtp_rt.config.site.secret_key
    assert verp.find_token(received.mail_from, secret) == row.id
    assert verp.find_token(received.mail_from.upper(), secret) == row.id


def test_confirmation_is_transactional(delivered: Delivered) -> None:
    msg = delivered.confirmation.message
    assert msg["List-Unsubscribe"] is None and msg["List-Id"] is None
    assert msg["Precedence"] is None
    assert str(msg["Auto-Submitted"]) == "auto-generated"
    assert str(msg["From"]) == f"Council Digest <digest@{DOMAIN}>"


@pytest.mark.slow
def test_spamassassin_scores_digest_and_welcome_below_one(
    delivered: Delivered, tmp_path: Path
) -> None:
    for received in (delivered.digest, delivered.welcome):
        report = spamassassin(received.data, tmp_path)
        assert report.score < 1.0, report.text
        bad = {
            r
            for r in report.rules
            if r.startswith(("MISSING_", "HTML_IMAGE_ONLY", "HTML_IMAGE_RATIO", "MPART_ALT_DIFF"))
            or r in ("MIME_HTML_ONLY", "SUBJ_ALL_CAPS", "HTML_MIME_NO_HTML_TAG")
        }
        assert not bad, report.text
