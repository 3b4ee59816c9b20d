"""A Flask test client that behaves like a browser on the site's real (https) address:
secure cookies are kept and sent, and form posts carry a same-origin Referer."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse


class BrowserLikeClient(FlaskClient):
    site_url = "https://councildigest.example.org"

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("base_url", self.site_url)
        headers = dict(kwargs.pop("headers", None) or {})
        path = args[0] if args and isinstance(args[0], str) else kwargs.get("path", "/")
        if kwargs.get("method", "GET") == "POST" and "Referer" not in headers and self.send_referer:
            headers["Referer"] = self.site_url + urlsplit(path).path
        kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    send_referer = True
