"""Driving the app like a browser without JavaScript: fetch a form, post it back."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post_form(
    client: FlaskClient,
    form_page: str,
    action: str,
    data: dict[str, Any] | None = None,
    **kwargs: Any,
) -> TestResponse:
    fields = {"csrf_token": csrf_token(client, form_page), **(data or {})}
    return client.post(action, data=fields, **kwargs)


def subscribe(client: FlaskClient, slug: str, email: str, **extra: str) -> TestResponse:
    return post_form(
        client, f"/councils/{slug}", f"/councils/{slug}/subscribe", {"email": email, **extra}
    )


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)
