"""DKIM signing (RFC 6376): rsa-sha256, and optionally a second ed25519-sha256 signature
(RFC 8463), relaxed/relaxed, no l= tag.

The signature is computed last, over the exact bytes that go on the wire. Header names
are listed once more than they occur ("oversigning"), so nobody can add a second From,
Subject or List-Unsubscribe without breaking the signature; names listed but absent sign
their absence (a List-Unsubscribe added to a confirmation mail breaks it too). dkimpy's
default list leaves out List-Unsubscribe-Post, which RFC 8058 requires to be signed.

Why not `dkim.sign()`: dkimpy does RSA in pure Python (about 7 ms per 2048-bit signature,
which capped delivery at ~85 messages a second). Here dkimpy still does what it is good
and well tested at (message parsing, relaxed canonicalisation, header selection and
folding), and the private-key operation goes to OpenSSL through `cryptography` (about
0.35 ms). PKCS#1 v1.5 is deterministic, so for the same t= the result is byte for byte
what `dkim.sign()` writes; tests/unit/test_dkim_signer.py checks exactly that.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from dkim.canonicalization import correct_empty_body, strip_trailing_lines

from digest.config import ConfigError, MailConfig

# Signed as often as they occur (RFC 6376 section 5.4 and RFC 8058 section 4).
SIGNED = (
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-help",
    "list-archive",
    "list-post",
    "feedback-id",
    "auto-submitted",
    "precedence",
)
# Listed once more than they occur, so an added copy fails verification.
OVERSIGNED = frozenset(
    {
        "from",
        "reply-to",
        "to",
        "subject",
        "date",
        "message-id",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "list-archive",
        "feedback-id",
    }
)

_HEADER_NAME = b"DKIM-Signature"


def header_list(raw: bytes) -> list[bytes]:
    """The h= list for this message: each name as often as it occurs, plus one for the
    oversigned names."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    names = [
        line.split(b":", 1)[0]
        for line in head.split(b"\r\n")
        if line[:1] not in (b" ", b"\t") and b":" in line
    ]
    return _h_list(names)


def _h_list(names: Sequence[bytes]) -> list[bytes]:
    counts: Counter[str] = Counter(n.strip().decode("ascii", "replace").lower() for n in names)
    chosen: list[bytes] = []
    for name in SIGNED:
        times = counts[name] + (1 if name in OVERSIGNED else 0)
        chosen.extend([name.encode()] * times)
    return chosen


def relaxed_body(body: bytes) -> bytes:
    """The body in relaxed canonical form (RFC 6376 section 3.4.4), as dkimpy computes it.

    dkimpy does it with regular expressions that replace every single space, ~1 ms for
    a 20 KB digest whose HTML is indented; these C-speed replaces give the same bytes in
    a fraction of that (tests/unit/test_dkim_signer.py compares them on random bodies)."""
    return relaxed_end(relaxed_lines(body))


def relaxed_lines(lines: bytes) -> bytes:
    """The within-line part of relaxed body canonicalisation: tabs and runs of spaces
    become one space, white space before a line end goes. It works line by line, so for
    text cut at line ends the canonical form is the concatenation of the pieces' forms
    (what digest.mail.encoded_once relies on)."""
    if b"\t" in lines:
        lines = lines.replace(b"\t", b" ")
    while b"  " in lines:  # each pass halves every run of spaces
        lines = lines.replace(b"  ", b" ")
    return lines.replace(b" \r\n", b"\r\n")


def relaxed_end(lines: bytes) -> bytes:
    """The end-of-body part of relaxed canonicalisation: no empty lines at the end, and
    an empty body is one CRLF."""
    return bytes(correct_empty_body(strip_trailing_lines(lines)))


def relaxed_headers(headers: Sequence[Sequence[bytes]]) -> list[tuple[bytes, bytes]]:
    """Header fields in relaxed canonical form (RFC 6376 section 3.4.2), as dkimpy's
    canonicaliser gives them: name lower-cased, value unfolded, runs of white space made
    one space, trimmed. Plain replaces instead of dkimpy's two regular expressions per
    header, which cost more than the RSA signature itself."""
    canonical = []
    for name, value in headers:
        if b"\n" in value:
            value = value.replace(b"\r\n", b"").replace(b"\n", b"")
        if b"\t" in value:
            value = value.replace(b"\t", b" ")
        while b"  " in value:
            value = value.replace(b"  ", b" ")
        canonical.append((name.lower().rstrip(), value.strip() + b"\r\n"))
    return canonical


def body_hash(body: bytes) -> bytes:
    """bh=: base64 SHA-256 of the body in relaxed canonical form."""
    return canonical_body_hash(relaxed_body(body))


def canonical_body_hash(canonical: bytes) -> bytes:
    """bh= for a body already in relaxed canonical form."""
    return base64.b64encode(hashlib.sha256(canonical).digest())


def _selected(headers: Sequence[Sequence[bytes]], include: Sequence[bytes]) -> bytes:
    """The headers the h= list selects, in relaxed form and h= order, as dkimpy's
    `hash_headers` feeds them to the hash (bottom-up for repeated names)."""
    chosen = dkim.select_headers(relaxed_headers(headers), list(include))
    return b"".join(name + b":" + value for name, value in chosen)


def _signature_part(unsigned_signature: bytes) -> bytes:
    """The DKIM-Signature header, its b= already empty, in relaxed form: hashed last,
    without its CRLF (RFC 6376 section 3.7)."""
    ((name, value),) = relaxed_headers([(_HEADER_NAME, unsigned_signature)])
    return name + b":" + value.rstrip()


# A value that relaxed canonicalisation leaves as it is: printable ASCII, single spaces
# inside only (a recipient, a Message-ID, an RFC 5322 date, a link).
_CANONICAL_AS_IS = re.compile(rb"[\x21-\x7e]+(?: [\x21-\x7e]+)*")


@dataclass(frozen=True)
class SignedHead:
    """A message head parsed, selected and canonicalised once, for many messages made
    from it by putting values in place of placeholders (a weekly digest's recipients,
    digest.mail.compose). Each placeholder occurs once in the head and once here, and
    a value that canonicalisation leaves unchanged canonicalises to the same bytes in
    place of its placeholder: filling in here equals canonicalising the filled head."""

    include: tuple[bytes, ...]
    selected: bytes  # `_selected` of the head

    @classmethod
    def of(cls, head: bytes, placeholders: Sequence[bytes]) -> SignedHead | None:
        """The head of a message (up to its blank line) with `placeholders` in it; None
        when a placeholder does not survive canonicalisation as itself, exactly once."""
        headers, _ = dkim.rfc822_parse(head.partition(b"\r\n\r\n")[0] + b"\r\n\r\n")
        include = tuple(_h_list([name for name, _ in headers]))
        selected = _selected(headers, include)
        if any(selected.count(p) != 1 or not _CANONICAL_AS_IS.fullmatch(p) for p in placeholders):
            return None
        return cls(include, selected)

    def filled(self, values: Sequence[tuple[bytes, bytes]]) -> SignedHead | None:
        """This head with each (placeholder, value) filled in; None when a value is not
        left as it is by canonicalisation (the message is then signed the long way)."""
        selected = self.selected
        for placeholder, value in values:
            if not _CANONICAL_AS_IS.fullmatch(value):
                return None
            selected = selected.replace(placeholder, value, 1)
        return SignedHead(self.include, selected)


@dataclass(frozen=True)
class _Key:
    algorithm: bytes  # the a= tag
    rsa: rsa.RSAPrivateKey | None = None
    ed25519: ed25519.Ed25519PrivateKey | None = None

    def sign(self, data: bytes) -> bytes:
        if self.rsa is not None:
            return self.rsa.sign(data, padding.PKCS1v15(), hashes.SHA256())
        assert self.ed25519 is not None
        # RFC 8463 section 3: Ed25519 signs the SHA-256 hash of the header data.
        return self.ed25519.sign(hashlib.sha256(data).digest())


@dataclass(frozen=True)
class DkimSigner:
    domain: str
    selector: str
    private_key: bytes
    # Optional second signature (RFC 8463); receivers that know Ed25519 check either.
    ed25519_selector: str = ""
    ed25519_key: bytes = b""
    _keys: tuple[_Key, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = [_Key(b"rsa-sha256", rsa=_load_rsa(self.private_key))]
        if self.ed25519_key:
            keys.append(_Key(b"ed25519-sha256", ed25519=_load_ed25519(self.ed25519_key)))
        object.__setattr__(self, "_keys", tuple(keys))

    @classmethod
    def from_config(cls, config: MailConfig) -> DkimSigner | None:
        if not config.dkim_domain:
            return None
        key = _read_pem(config.dkim_private_key_path, "dkim_private_key_path")
        ed_key = b""
        if config.dkim_ed25519_key_path:
            ed_key = _read_pem(config.dkim_ed25519_key_path, "dkim_ed25519_key_path")
        try:
            return cls(
                config.dkim_domain.lower(),
                config.dkim_selector,
                key,
                ed25519_selector=config.dkim_ed25519_selector or config.dkim_selector,
                ed25519_key=ed_key,
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"[mail] DKIM key is not usable: {exc}") from exc

    def sign(
        self,
        raw: bytes,
        now: float | None = None,
        *,
        bh: bytes | None = None,
        head: SignedHead | None = None,
    ) -> bytes:
        """`raw` with a DKIM-Signature header in front (two with an Ed25519 key: the
        RSA one first). `bh`: the body hash, when the caller already has it (a digest
        canonicalised mostly once for all its recipients, digest.mail.encoded_once).
        `head`: `raw`'s head already canonicalised (SignedHead), likewise."""
        return self.sign_in(None, raw, now, bh=bh, head=head)()

    def sign_in(
        self,
        pool: Executor | None,
        raw: bytes,
        now: float | None = None,
        *,
        bh: bytes | None = None,
        head: SignedHead | None = None,
    ) -> Callable[[], bytes]:
        """As `sign`, with the private-key operations run in `pool`: everything else is
        done here, now, and the returned function waits for them and gives the signed
        message. OpenSSL releases the GIL while signing (about 1 ms for RSA 2048), so
        the delivery loop goes on meanwhile (digest.mail.delivery)."""
        if head is not None and bh is not None:
            include, selected = list(head.include), head.selected
        else:
            # Only the head goes through dkimpy's line-by-line parser; the body is hashed
            # as a whole (rfc822_parse would split and rejoin every body line).
            top, separator, body = raw.partition(b"\r\n\r\n")
            if not separator:
                top, body = raw, b""
            if bh is None and body.count(b"\n") != body.count(b"\r\n"):
                # Bare line feeds: let dkimpy normalise the whole message, as it would.
                headers, body = dkim.rfc822_parse(raw)
            else:
                headers, _ = dkim.rfc822_parse(top + b"\r\n\r\n")
            include = _h_list([name for name, _ in headers])
            selected = _selected(headers, include)
            if bh is None:
                bh = body_hash(body)
        stamp = str(int(time.time() if now is None else now)).encode()
        unsigned = [self._unsigned(key, include, bh, stamp) for key in self._keys]
        data = [selected + _signature_part(b" " + value) for _, value in unsigned]
        if pool is None:
            signatures = [key.sign(d) for key, d in zip(self._keys, data, strict=True)]
            return lambda: _signed(unsigned, signatures, raw)
        pending = [pool.submit(key.sign, d) for key, d in zip(self._keys, data, strict=True)]
        return lambda: _signed(unsigned, [f.result() for f in pending], raw)

    def _unsigned(
        self, key: _Key, include: list[bytes], bh: bytes, stamp: bytes
    ) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The signature header's tags with b= still to fill, and the folded value with
        an empty b= that the signature covers."""
        selector = self.selector if key.rsa is not None else self.ed25519_selector
        domain = self.domain.encode()
        fields = [
            (b"v", b"1"),
            (b"a", key.algorithm),
            (b"c", b"relaxed/relaxed"),
            (b"d", domain),
            (b"i", b"@" + domain),
            (b"q", b"dns/txt"),
            (b"s", selector.encode()),
            (b"t", stamp),
            (b"h", b" : ".join(include)),
            (b"bh", bh),
            # A placeholder that makes b= fold onto a line of its own, so refolding after
            # the signature is filled in changes no whitespace in the other tags (as dkimpy).
            (b"b", b"0" * 60),
        ]
        value = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(_HEADER_NAME))
        return fields, dkim.RE_BTAG.sub(b"\\1", value)


def _signed(
    unsigned: list[tuple[list[tuple[bytes, bytes]], bytes]], signatures: list[bytes], raw: bytes
) -> bytes:
    """`raw` with the signature headers in front, their b= filled in."""
    headers = []
    for (fields, _), signature in zip(unsigned, signatures, strict=True):
        tags = [*fields[:-1], (b"b", base64.b64encode(signature))]
        folded = dkim.fold(
            b"; ".join(b"=".join(f) for f in tags) + b"\r\n", namelen=len(_HEADER_NAME)
        )
        headers.append(_HEADER_NAME + b": " + bytes(folded))
    return b"".join(headers) + raw


def _read_pem(path_text: str, key_name: str) -> bytes:
    path = Path(path_text)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"[mail] {key_name} cannot be read ({path}: {exc.strerror})") from exc
    if b"PRIVATE KEY" not in key:
        raise ConfigError(f"[mail] {key_name} is not a PEM private key ({path})")
    return key


def _load_rsa(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("dkim_private_key_path must hold an RSA key")
    return key


def _load_ed25519(pem: bytes) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError("dkim_ed25519_key_path must hold an Ed25519 key")
    return key


def ed25519_dns_record(pem: bytes) -> str:
    """The TXT record to publish for an Ed25519 key: the raw 32-byte public key in p=."""
    public = (
        _load_ed25519(pem)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"
