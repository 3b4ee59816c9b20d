"""DKIM signing (RFC 6376) with dkimpy: rsa-sha256, relaxed/relaxed, no l= tag.

The signature is computed last, over the exact bytes that go on the wire. Header names
are listed once more than they occur ("oversigning"), so nobody can add a second From,
Subject or List-Unsubscribe without breaking the signature; names listed but absent sign
their absence (a List-Unsubscribe added to a confirmation mail breaks it too). dkimpy's
default list leaves out List-Unsubscribe-Post, which RFC 8058 requires to be signed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import dkim

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


def header_list(raw: bytes) -> list[bytes]:
    """The h= list for this message: each name as often as it occurs, plus one for the
    oversigned names."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    counts: Counter[str] = Counter()
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") or b":" not in line:
            continue
        counts[line.split(b":", 1)[0].strip().decode("ascii", "replace").lower()] += 1
    names: list[bytes] = []
    for name in SIGNED:
        times = counts[name] + (1 if name in OVERSIGNED else 0)
        names.extend([name.encode()] * times)
    return names


@dataclass(frozen=True)
class DkimSigner:
    domain: str
    selector: str
    private_key: bytes

    @classmethod
    def from_config(cls, config: MailConfig) -> DkimSigner | None:
        if not config.dkim_domain:
            return None
        path = Path(config.dkim_private_key_path)
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"[mail] dkim_private_key_path cannot be read ({path}: {exc.strerror})"
            ) from exc
        if b"PRIVATE KEY" not in key:
            raise ConfigError(f"[mail] dkim_private_key_path is not a PEM private key ({path})")
        return cls(config.dkim_domain.lower(), config.dkim_selector, key)

    def sign(self, raw: bytes) -> bytes:
        """`raw` with a DKIM-Signature header in front."""
        signature = dkim.sign(
            raw,
            self.selector.encode(),
            self.domain.encode(),
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=header_list(raw),
            linesep=b"\r\n",
        )
        return bytes(signature) + raw
