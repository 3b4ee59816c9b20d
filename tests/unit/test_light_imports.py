"""Importing a pure helper loads the helper, not the service: `digest/__init__.py` imports
Flask, the runtime and the web app only when `create_app` is called."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# What a pure helper must not pull in: Flask, the process wiring, the web app, the mail
# engine and the configuration loader.
SERVICE = ("digest.runtime", "digest.web", "digest.mail", "digest.config")


@pytest.mark.parametrize(
    "module",
    ["digest.words", "digest.topics", "digest.weekly.resolutions", "digest.weekly.weeks"],
)
def test_a_pure_helper_does_not_load_the_service(module: str) -> None:
    code = (
        f"import json, sys, {module}\n"
        f"print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] == 'flask'"
        f" or n.startswith({SERVICE!r}))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [], f"importing {module} loaded {out}"
