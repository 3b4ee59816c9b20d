"""Real headless Chromium (Debian's package) driven by Playwright; no browser download.

Browser tests skip when Chromium is missing, unless DIGEST_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("DIGEST_CHROMIUM"),
        shutil.which("chromium"),
        "/usr/bin/chromium",
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def require_browser() -> bool:
    return os.environ.get("DIGEST_REQUIRE_BROWSER") == "1"


def skip_or_fail(reason: str) -> None:
    if require_browser():
        pytest.fail(f"DIGEST_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)
