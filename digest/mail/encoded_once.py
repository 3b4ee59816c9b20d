"""A digest's body encoded once for all its recipients, line by line.

Quoted-printable (binascii.b2a_qp) and DKIM's relaxed body canonicalisation both work a
line at a time: the encoding of whole lines is the concatenation of each line's
encoding, and so is the canonical form. A weekly digest differs between its recipients
only on the few lines that hold their links, so those lines are encoded and
canonicalised for each recipient and all the others once per digest. Encoding and
canonicalising the whole 20 KB body for every recipient cost about a fifth of a
signed send (tests/unit/test_encoded_once.py checks the result against doing exactly
that).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from digest.mail.dkim import relaxed_end, relaxed_lines
from digest.mail.wire import encode_body, normalise_lines


@dataclass(frozen=True)
class _Fixed:
    """Wire bytes the same for every recipient, ending at a line end, and their relaxed
    canonical form."""

    wire: bytes
    canonical: bytes


@dataclass(frozen=True)
class Filled:
    wire: bytes  # the body as sent
    canonical: bytes  # the body in DKIM's relaxed canonical form


class EncodedOnce:
    """A message body from fixed wire bytes (MIME boundaries, part headers) and texts
    sent quoted-printable, whose lines holding any of `placeholders` are filled in per
    recipient."""

    def __init__(self, parts: Sequence[bytes | str], placeholders: Sequence[str]) -> None:
        """`parts`: bytes go on the wire as they are and must end at a line end (or be
        empty); str parts are texts to encode."""
        self.placeholders = tuple(placeholders)
        pieces: list[_Fixed | str] = []
        fixed: list[bytes] = []

        def close_run() -> None:
            if fixed:
                wire = b"".join(fixed)
                pieces.append(_Fixed(wire, relaxed_lines(wire)))
                fixed.clear()

        for part in parts:
            if isinstance(part, bytes):
                if part and not part.endswith(b"\r\n"):
                    raise ValueError("fixed parts must end at a line end")
                fixed.append(part)
                continue
            run: list[str] = []
            for line in normalise_lines(part):
                if any(p in line for p in self.placeholders):
                    if run:
                        fixed.append(encode_body("".join(run)))
                        run = []
                    close_run()
                    pieces.append(line)
                else:
                    run.append(line)
            if run:
                fixed.append(encode_body("".join(run)))
        close_run()
        self._pieces = tuple(pieces)

    @property
    def per_recipient_lines(self) -> int:
        return sum(isinstance(piece, str) for piece in self._pieces)

    def fill(self, values: Mapping[str, str]) -> Filled:
        """This recipient's body: placeholders replaced by `values` (plain ASCII without
        line breaks, such as links)."""
        wire: list[bytes] = []
        canonical: list[bytes] = []
        for piece in self._pieces:
            if isinstance(piece, _Fixed):
                wire.append(piece.wire)
                canonical.append(piece.canonical)
                continue
            line = piece
            for placeholder in self.placeholders:
                line = line.replace(placeholder, values[placeholder])
            encoded = encode_body(line)
            wire.append(encoded)
            canonical.append(relaxed_lines(encoded))
        return Filled(b"".join(wire), relaxed_end(b"".join(canonical)))
