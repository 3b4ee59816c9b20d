"""Shared fixtures. Every test that asks for a database (`engine`, `rt`, `app`, `client`,
...) runs twice: on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from digest import create_app
from digest.config import Config
from digest.runtime import Runtime
from tests.support import databases
from tests.support.browser import CHROMIUM_ARGS, chromium_path, skip_or_fail
from tests.support.client import BrowserLikeClient
from tests.support.clock import Clock
from tests.support.live import LiveServer
from tests.support.moderngov import FakeModernGov
from tests.support.smtp import SmtpSink, free_port, start_sink

ARTIFACTS = Path(
    os.environ.get("DIGEST_TEST_ARTIFACTS", Path(__file__).parent.parent / "var" / "test-artifacts")
)
SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
BASE_URL = "https://councildigest.example.org"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's config file or DIGEST_* variables must never leak into tests.
    for key in list(os.environ):
        if key.startswith("DIGEST_") and not key.startswith(
            ("DIGEST_REQUIRE_", "DIGEST_TEST_", "DIGEST_CHROMIUM")
        ):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.build_sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[databases.PostgresDatabase | None]:
    yield from databases.postgres_session_database()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if db_backend == "sqlite":
        eng = databases.sqlite_engine(request.getfixturevalue("sqlite_template"), tmp_path)
        yield eng
        eng.dispose()
        return
    database = request.getfixturevalue("postgres_database")
    if database is None:
        pytest.skip("PostgreSQL is not available on 127.0.0.1:5432")
    yield database.reset()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_config(tmp_path: Path, engine: Engine, **sections: dict[str, Any]) -> Config:
    base: dict[str, dict[str, Any]] = {
        "site": {
            "secret_key": SECRET,
            "base_url": BASE_URL,
            "var_dir": str(tmp_path / "var"),
            "contact_email": "hello@councildigest.example.org",
        },
        "database": {"url": engine.url.render_as_string(hide_password=False)},
        "mail": {
            "maildir_path": str(tmp_path / "var" / "mail"),
            "from_address": "digest@councildigest.example.org",
            "smtp_timeout": 5.0,
        },
        "collector": {"allow_private_hosts": True, "per_host_interval": 0.0, "timeout": 5.0},
        # Tests check pages right after changing data.
        "web": {"public_cache_seconds": 0},
        # Tests never reach the real postcode service; tests/support/postcodes.py fakes it.
        "lookup": {"postcode_api": ""},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return Config().replace(**base)


@pytest.fixture
def config(tmp_path: Path, engine: Engine) -> Config:
    return make_config(tmp_path, engine)


@pytest.fixture
def rt(config: Config, engine: Engine, clock: Clock) -> Runtime:
    runtime = Runtime.from_config(config, engine=engine)
    runtime.clock = clock
    return runtime


@pytest.fixture
def session(rt: Runtime) -> Iterator[Session]:
    """A session for arranging and checking data; tests commit explicitly."""
    with rt.sessions() as s:
        yield s


def make_app(runtime: Runtime) -> Flask:
    application = create_app(runtime=runtime)
    application.testing = True
    application.test_client_class = BrowserLikeClient
    return application


@pytest.fixture
def app(rt: Runtime) -> Flask:
    return make_app(rt)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    controller = start_sink(sink)
    yield sink
    controller.stop()


@pytest.fixture
def smtp_rt(tmp_path: Path, engine: Engine, clock: Clock, smtp_sink: SmtpSink) -> Runtime:
    """A runtime whose mail goes over SMTP to the loopback sink."""
    config = make_config(
        tmp_path,
        engine,
        mail={
            "backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_sink.port,
        },
    )
    runtime = Runtime.from_config(config, engine=engine)
    runtime.clock = clock
    return runtime


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        skip_or_fail("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("the playwright package is not installed")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def live_server_factory() -> Iterator[Any]:
    servers: list[LiveServer] = []

    def start(app: Flask, port: int) -> LiveServer:
        server = LiveServer(app, port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def live_site(
    tmp_path: Path, engine: Engine, clock: Clock, live_server_factory: Any
) -> Callable[..., tuple[Runtime, LiveServer]]:
    """Starts the whole web app on a free loopback port: its runtime (on the test clock,
    `base_url` that port; keyword arguments are further config sections) and server."""

    def start(**sections: dict[str, Any]) -> tuple[Runtime, LiveServer]:
        port = free_port()
        site = {"base_url": f"http://127.0.0.1:{port}", **sections.pop("site", {})}
        config = make_config(tmp_path, engine, site=site, **sections)
        rt = Runtime.from_config(config, engine=engine)
        rt.clock = clock
        return rt, live_server_factory(make_app(rt), port)

    return start


@pytest.fixture
def fake_moderngov() -> Iterator[FakeModernGov]:
    """A fake ModernGov server on loopback (see tests/support/moderngov.py)."""
    fake = FakeModernGov()
    yield fake
    fake.stop()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


__all__ = ["free_port"]
