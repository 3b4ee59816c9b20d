"""The DKIM signer against dkimpy itself: the same bytes as `dkim.sign()` for the same
t=, the same relaxed body as dkimpy's canonicaliser, and Ed25519 signatures dkimpy
verifies."""

from __future__ import annotations

import random
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from freezegun import freeze_time

from digest.config import ConfigError, MailConfig
from digest.mail.dkim import (
    DkimSigner,
    SignedHead,
    body_hash,
    ed25519_dns_record,
    header_list,
    relaxed_body,
    relaxed_headers,
)
from tests.support.mail import DKIMPY_RELAXED

DOMAIN = "councildigest.example.org"


def _pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def rsa_pem() -> bytes:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ed_pem() -> bytes:
    return _pem(ed25519.Ed25519PrivateKey.generate())


def _rsa_record(pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


HEAD = (
    b"From: Council Digest <digest@councildigest.example.org>\r\n"
    b"To: resident@example.net\r\n"
    b"Subject: Wigan Council:   this week\r\n\tfolded  onto two lines\r\n"
    b"Date: Mon, 30 Nov 2026 07:00:00 +0000\r\n"
    b"Message-ID: <digest.1.2@councildigest.example.org>\r\n"
    b"List-Id: Wigan Council <wigan.councildigest.example.org>\r\n"
    b"List-Unsubscribe: <https://councildigest.example.org/u/abc>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
)
BODIES = [
    b"The Cabinet met on 18 November.\r\nIt approved the budget.\r\n",
    b"",
    b"\r\n\r\n\r\n",
    b"Runs  of   spaces\tand tabs \t \r\nTrailing space \r\n\r\n\r\n",
    b"No final line break",
    b"Bare\nline feeds\nhere\n\n",
    b"=E2=80=99 quoted-printable soft break=\r\n continues\r\n" * 500,
]


@pytest.mark.parametrize("body", BODIES)
def test_same_bytes_as_dkimpy_for_the_same_time(rsa_pem: bytes, body: bytes) -> None:
    raw = HEAD + b"\r\n" + body
    signer = DkimSigner(DOMAIN, "s2026a", rsa_pem)
    with freeze_time("2026-11-30 07:00:00"):
        ours = signer.sign(raw)
        theirs = dkim.sign(
            raw,
            b"s2026a",
            DOMAIN.encode(),
            rsa_pem,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=header_list(raw),
            linesep=b"\r\n",
        )
    assert ours == theirs + raw
    record = _rsa_record(rsa_pem)
    assert dkim.verify(ours, dnsfunc=lambda name, timeout=5: record)


def test_relaxed_body_matches_dkimpy_on_random_bodies() -> None:
    pieces = [b"a", b"word", b" ", b"  ", b"\t", b"\r\n", b"\r\n\r\n", b"=20", b" \r\n", b"\n"]
    rng = random.Random(20261202)
    for _ in range(3000):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        if b"\n" in body.replace(b"\r\n", b""):
            continue  # bare LF: the signer hands those to dkimpy's parser whole
        expected = bytes(DKIMPY_RELAXED.canonicalize_body(body))
        assert relaxed_body(body) == expected, body


def test_relaxed_headers_match_dkimpy_on_random_values() -> None:
    pieces = [
        b"a",
        b"Word",
        b" ",
        b"  ",
        b"\t",
        b"\r\n ",
        b"\r\n\t",
        b"\n ",
        b"\r",
        b"=?utf-8?q?x?=",
    ]
    rng = random.Random(20261203)
    for _ in range(3000):
        name = rng.choice([b"Subject", b"X-Odd ", b"LIST-ID"])
        value = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) + b"\r\n"
        expected = [tuple(h) for h in DKIMPY_RELAXED.canonicalize_headers([(name, value)])]
        assert relaxed_headers([(name, value)]) == expected, value


def test_a_head_canonicalised_once_signs_as_the_long_way(rsa_pem: bytes) -> None:
    """A digest's head is canonicalised once with placeholders and filled in per
    recipient: the result must be byte for byte what canonicalising the filled-in head
    gives, and values canonicalisation would change must send the message the long way."""
    placeholders = (b"cd-to-1@placeholder.invalid", b"Mon, 01 Jan 2001 00:00:00 +0000")
    template = (
        HEAD.replace(b"resident@example.net", placeholders[0]).replace(
            b"Mon, 30 Nov 2026 07:00:00 +0000", placeholders[1]
        )
        + b"\r\n"
    )
    head = SignedHead.of(template, placeholders)
    assert head is not None
    signer = DkimSigner(DOMAIN, "s2026a", rsa_pem)
    body = b"The Cabinet met.\r\n"
    pieces = [b"a", b"Z", b"9", b"@", b"<", b".", b"a b", b" ", b"  ", b"\t", b"\r\n "]
    rng = random.Random(20261204)
    filled_in = refused = 0
    for _ in range(500):
        values = [b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 5))) for _ in "ab"]
        raw = template
        for placeholder, value in zip(placeholders, values, strict=True):
            raw = raw.replace(placeholder, value, 1)
        raw += body
        filled = head.filled(tuple(zip(placeholders, values, strict=True)))
        if filled is None:
            refused += 1
            continue
        filled_in += 1
        bh = body_hash(body)
        assert signer.sign(raw, 1_800_000_000, bh=bh, head=filled) == signer.sign(
            raw, 1_800_000_000
        ), values
    assert filled_in > 50 and refused > 50, (filled_in, refused)
    # A placeholder that canonicalisation would change, or that is not in the head once.
    assert SignedHead.of(template, (b"two  spaces",)) is None
    assert SignedHead.of(template, (b"absent@placeholder.invalid",)) is None


def test_tampering_breaks_the_signature(rsa_pem: bytes) -> None:
    raw = HEAD + b"\r\nThe Cabinet met.\r\n"
    signed = DkimSigner(DOMAIN, "s2026a", rsa_pem).sign(raw)
    record = _rsa_record(rsa_pem)

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return record

    assert dkim.verify(signed, dnsfunc=dnsfunc)
    assert not dkim.verify(signed.replace(b"met.", b"met!"), dnsfunc=dnsfunc)
    added = signed.replace(b"MIME-Version", b"List-Unsubscribe: <https://evil/>\r\nMIME-Version")
    assert not dkim.verify(added, dnsfunc=dnsfunc)


def test_ed25519_second_signature_verifies_with_dkimpy(rsa_pem: bytes, ed_pem: bytes) -> None:
    raw = HEAD + b"\r\n" + BODIES[0]
    signer = DkimSigner(DOMAIN, "s2026a", rsa_pem, ed25519_selector="e2026a", ed25519_key=ed_pem)
    signed = signer.sign(raw)
    assert signed.count(b"DKIM-Signature:") == 2
    records = {
        b"s2026a": _rsa_record(rsa_pem),
        b"e2026a": ed25519_dns_record(ed_pem).encode(),
    }

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return records[name.split(b".", 1)[0]]

    def verifies(message: bytes, idx: int) -> bytes | None:
        """The a= tag of signature idx when it verifies, else None."""
        checker = dkim.DKIM(message)
        try:
            ok = checker.verify(idx=idx, dnsfunc=dnsfunc)
        except dkim.DKIMException:
            return None
        return checker.signature_fields[b"a"] if ok else None

    assert verifies(signed, 0) == b"rsa-sha256"
    assert verifies(signed, 1) == b"ed25519-sha256"
    tampered = signed.replace(b"approved", b"refused")
    assert verifies(tampered, 0) is None
    assert verifies(tampered, 1) is None


def test_config_checks_the_keys(tmp_path: Path, rsa_pem: bytes, ed_pem: bytes) -> None:
    rsa_path = tmp_path / "rsa.pem"
    rsa_path.write_bytes(rsa_pem)
    ed_path = tmp_path / "ed.pem"
    ed_path.write_bytes(ed_pem)
    base = {"dkim_domain": DOMAIN, "dkim_selector": "s2026a"}
    with pytest.raises(ConfigError, match="RSA key"):
        DkimSigner.from_config(MailConfig(**base, dkim_private_key_path=str(ed_path)))
    with pytest.raises(ConfigError, match="Ed25519 key"):
        DkimSigner.from_config(
            MailConfig(
                **base,
                dkim_private_key_path=str(rsa_path),
                dkim_ed25519_selector="e2026a",
                dkim_ed25519_key_path=str(rsa_path),
            )
        )
    signer = DkimSigner.from_config(
        MailConfig(
            **base,
            dkim_private_key_path=str(rsa_path),
            dkim_ed25519_selector="e2026a",
            dkim_ed25519_key_path=str(ed_path),
        )
    )
    assert signer is not None and signer.ed25519_selector == "e2026a"
