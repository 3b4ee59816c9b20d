"""Web throughput under gunicorn (2 sync workers) with 100,000 subscribers in SQLite:
the council page must reach 50% and the subscribe POST 25% of the requests per second
of a minimal Flask view served the same way, measured side by side in this run."""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from bench import load, seed

COUNCIL_PATH = "/councils/wigan"
TARGETS = {"council_page": 0.50, "subscribe_post": 0.25}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _gunicorn(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError as exc:
            if process.poll() is not None:
                errors = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"gunicorn {app} exited: {errors}") from exc
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn {app} did not start")


def _session_and_token(base: str) -> tuple[str, str]:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(base + COUNCIL_PATH).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, token


def run(quick: bool = False) -> dict[str, Any]:
    subscribers = 10_000 if quick else 100_000
    seconds = 3.0 if quick else 8.0
    rounds = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "web.sqlite3"
        url = seed.migrated_sqlite(path)
        seed.subscriptions(path, subscribers)
        port, minimal_port = _free_port(), _free_port()
        config = Path(tmp) / "config.toml"
        config.write_text(f"""
[site]
secret_key = "{"w" * 48}"
base_url = "http://127.0.0.1:{port}"
var_dir = "{tmp}"
log_level = "WARNING"
[database]
url = "{url}"
[web]
subscribe_limit_per_ip = "10000000 per minute"
subscribe_limit_per_email = "10000000 per minute"
[mail]
maildir_path = "{tmp}/mail"
confirmations_per_day = 1000000
""")
        env = {**os.environ, "DIGEST_CONFIG": str(config)}
        servers = [
            _gunicorn("digest:create_app()", port, env),
            _gunicorn("bench.minimal_app:app", minimal_port, env),
        ]
        try:
            base = f"http://127.0.0.1:{port}"
            cookie, token = _session_and_token(base)
            runs: dict[str, list[float]] = {
                "minimal_view": [],
                "council_page": [],
                "subscribe_post": [],
            }
            bad = 0
            load.get(f"http://127.0.0.1:{minimal_port}/", 1)  # warm up
            load.get(base + COUNCIL_PATH, 1)
            for _ in range(rounds):
                for name in runs:
                    if name == "minimal_view":
                        result = load.get(f"http://127.0.0.1:{minimal_port}/", seconds)
                    elif name == "council_page":
                        result = load.get(base + COUNCIL_PATH, seconds)
                    else:
                        result = load.post_form(
                            base + COUNCIL_PATH + "/subscribe", seconds, cookie=cookie, token=token
                        )
                    runs[name].append(round(result.requests_per_second, 1))
                    bad += result.bad_responses
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)
    median = {name: statistics.median(values) for name, values in runs.items()}
    ratios = {name: round(median[name] / median["minimal_view"], 3) for name in TARGETS}
    return {
        "subscribers": subscribers,
        "load_tool": load.tool(),
        "seconds_per_run": seconds,
        "requests_per_second": runs,
        "median_requests_per_second": median,
        "ratio_to_minimal_view": ratios,
        "required_ratio": TARGETS,
        "bad_responses": bad,
        "pass": bad == 0 and all(ratios[n] >= TARGETS[n] for n in TARGETS),
    }
