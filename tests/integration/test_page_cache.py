"""The council page's HTML is reused across visitors for [web] public_cache_seconds,
but every visitor gets their own CSRF token and their own messages."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.engine import Engine

from digest.runtime import Runtime
from tests.conftest import make_app, make_config
from tests.integration.helpers import active_subscription
from tests.support.clock import Clock
from tests.support.web import subscribe, text

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_cached_page_gives_each_visitor_a_working_token(
    tmp_path: Path, engine: Engine, clock: Clock
) -> None:
    rt = Runtime.from_config(
        make_config(tmp_path, engine, web={"public_cache_seconds": 60}), engine=engine
    )
    rt.clock = clock
    app = make_app(rt)
    first, second = app.test_client(), app.test_client()
    page_one, page_two = text(first.get("/councils/wigan")), text(second.get("/councils/wigan"))
    assert "CSRF-TOKEN-PLACEHOLDER" not in page_one
    token_one, token_two = TOKEN.search(page_one), TOKEN.search(page_two)
    assert token_one and token_two and token_one.group(1) != token_two.group(1)
    # The same HTML otherwise: it was rendered once.
    assert TOKEN.sub("", page_one) == TOKEN.sub("", page_two)
    assert subscribe(first, "wigan", "one@example.net").status_code == 303
    assert subscribe(second, "wigan", "two@example.net").status_code == 303
    # Figures on the cached page may lag by up to public_cache_seconds.
    active_subscription(rt, "late@example.net", "wigan")
    assert TOKEN.sub("", text(first.get("/councils/wigan"))) == TOKEN.sub("", page_one)
