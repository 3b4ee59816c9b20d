"""Independent mail tools from Debian: SpamAssassin and Perl's Mail::DKIM.

Tests that need them skip when they are missing, unless DIGEST_REQUIRE_MAILTOOLS=1 (CI),
when they fail instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

PERL_VERIFIER = Path(__file__).parent / "mail_dkim_verify.pl"


def require_mailtools() -> bool:
    return os.environ.get("DIGEST_REQUIRE_MAILTOOLS") == "1"


def skip_or_fail(reason: str) -> None:
    if require_mailtools():
        pytest.fail(f"DIGEST_REQUIRE_MAILTOOLS=1 but {reason}")
    pytest.skip(reason)


def spamassassin_path() -> str:
    path = shutil.which("spamassassin")
    if path is None:
        skip_or_fail("spamassassin is not installed (apt-get install spamassassin)")
    assert path is not None
    return path


def perl_mail_dkim() -> str:
    perl = shutil.which("perl")
    ok = (
        perl is not None
        and subprocess.run(
            [perl, "-MMail::DKIM::Verifier", "-e", "1"], capture_output=True, check=False
        ).returncode
        == 0
    )
    if not ok:
        skip_or_fail("Perl Mail::DKIM is not installed (apt-get install libmail-dkim-perl)")
    assert perl is not None
    return perl


def perl_dkim_verify(raw: bytes, txt_record: str, tmp: Path) -> tuple[bool, str]:
    """Verify with Mail::DKIM against a stub resolver that answers `txt_record` (or, for
    several selectors, 'selector<TAB>record' lines)."""
    perl = perl_mail_dkim()
    record = tmp / "selector.txt"
    record.write_text(txt_record)
    result = subprocess.run(
        [perl, str(PERL_VERIFIER), str(record)], input=raw, capture_output=True, check=False
    )
    return result.returncode == 0, result.stdout.decode() + result.stderr.decode()


@dataclass(frozen=True)
class SpamReport:
    score: float
    rules: dict[str, float]
    text: str


def spamassassin(raw: bytes, tmp: Path) -> SpamReport:
    """Score a message with local tests only (-L: no DNS, no network checks)."""
    path = spamassassin_path()
    prefs = tmp / "user_prefs"
    prefs.write_text("")
    result = subprocess.run(
        [path, "-L", "-t", "-p", str(prefs)],
        input=raw,
        capture_output=True,
        check=False,
        env={**os.environ, "HOME": str(tmp)},
        timeout=120,
    )
    text = result.stdout.decode("utf-8", "replace")
    match = re.search(r"Content analysis details:\s+\((-?[\d.]+) points", text)
    assert match, text[-3000:] + result.stderr.decode("utf-8", "replace")
    rules = {
        name: float(points)
        for points, name in re.findall(r"^\s*(-?\d+\.\d+)\s+([A-Z][A-Z0-9_]+)\s", text, re.M)
    }
    return SpamReport(float(match.group(1)), rules, text)
