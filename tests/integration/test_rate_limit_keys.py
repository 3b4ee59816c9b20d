"""Rate limits key on what the action actually uses, and are shared between processes
(issue 10: padding the admin e-mail field past 320 characters reset the per-account
limit, a full-width spelling of an address got past the per-address limit, and
gunicorn's workers each counted their own)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from digest.models import AdminAction
from digest.runtime import Runtime
from digest.web.limits import RateLimits
from tests.conftest import make_app
from tests.integration.helpers import make_admin, write_config_file
from tests.support.smtp import free_port
from tests.support.web import csrf_token

REDIS_URL = os.environ.get("DIGEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN = "admin@councildigest.example.org"
PASSWORD = "correct horse battery staple"


def _post(client: FlaskClient, page: str, action: str, data: dict[str, str], ip: str) -> int:
    token = csrf_token(client, page)
    return client.post(
        action, data={"csrf_token": token, **data}, environ_base={"REMOTE_ADDR": ip}
    ).status_code


def test_padding_the_admin_address_does_not_reset_the_account_limit(
    client: FlaskClient, rt: Runtime
) -> None:
    make_admin(rt, ADMIN, PASSWORD)
    wrong = [
        _post(
            client,
            "/admin/login",
            "/admin/login",
            {"email": ADMIN, "password": f"guess {i}"},
            f"198.51.100.{i + 1}",
        )
        for i in range(5)
    ]
    assert wrong == [401] * 5
    # Padding past the 320 characters the sign-in reads, then anything: the limit and the
    # sign-in must see one and the same address.
    padded = [
        ADMIN + " " * 400 + "x",
        ADMIN + " " * 330 + ADMIN,
        " " * 330 + ADMIN.upper(),
        ADMIN + "\t" * 9,
        "Admin <" + ADMIN + ">",
    ]
    statuses = [
        _post(
            client,
            "/admin/login",
            "/admin/login",
            {"email": email, "password": PASSWORD},
            f"203.0.113.{n + 1}",
        )
        for n, email in enumerate(padded)
    ]
    assert statuses == [401, 401, 429, 429, 429], statuses
    with rt.read_sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AdminAction)) == 7


def test_full_width_spelling_counts_against_the_same_address(
    client: FlaskClient, rt: Runtime
) -> None:
    statuses = [
        _post(
            client,
            "/councils/wigan",
            "/councils/wigan/subscribe",
            {"email": email},
            f"198.51.100.{i + 1}",
        )
        for i, email in enumerate(
            [
                "victim@example.net",
                "Victim@Example.NET",
                "victim@ｅｘａｍｐｌｅ.net",
                "ｖｉｃｔｉｍ＠example.net",
                "Victim <victim@example.net>",
                "victim@ＥＸＡＭＰＬＥ．ＮＥＴ",
            ]
        )
    ]
    assert statuses == [303] * 5 + [429]


def _redis_or_skip() -> None:
    try:
        import redis
    except ImportError:
        pytest.fail("the redis package is a dependency: shared rate limits need it")
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("DIGEST_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")


def test_redis_storage_shares_limits_between_web_processes(rt: Runtime, tmp_path: Path) -> None:
    """Two apps stand for two gunicorn workers: with the Redis store they count together."""
    _redis_or_skip()
    shared = rt.config.replace(web={"rate_limit_storage": REDIS_URL})
    apps = []
    for _ in range(2):
        other = Runtime.from_config(shared, engine=rt.engine)
        other.clock = rt.clock
        apps.append(make_app(other))
    clients = [a.test_client() for a in apps]
    # A fresh address and client per run: the Redis server is shared with other test runs.
    ip = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
    run = secrets.token_hex(4)
    statuses = [
        _post(
            clients[i % 2],
            "/councils/wigan",
            "/councils/wigan/subscribe",
            {"email": f"p{i}-{run}@example.net"},
            ip,
        )
        for i in range(12)
    ]
    assert statuses == [303] * 10 + [429] * 2
    # And the limits library itself against the real server.
    limits = RateLimits(REDIS_URL)
    assert limits.storage.check()


def test_memory_limits_under_several_processes_are_reported(
    tmp_path: Path, engine: Engine, rt: Runtime
) -> None:
    """gunicorn -w 2 with memory:// limits: a warning in the log and on /healthz."""
    config = write_config_file(tmp_path, engine, rt, "")
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "digest:create_app()",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")},
                "DIGEST_CONFIG": str(config),
            },
        )
        try:
            body = None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and body is None:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
                except urllib.error.HTTPError as exc:  # 503: no scheduler in this test
                    body = json.loads(exc.read())
                except OSError:
                    time.sleep(0.2)
            assert body is not None, log.read_text()
            assert any("rate_limit_storage" in w for w in body["warnings"]), body
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert "rate_limit_storage" in log.read_text()
