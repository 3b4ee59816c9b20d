"""Input no database can store is refused at the door, with a plain 400.

PostgreSQL refuses NUL characters in text (and any encoder refuses lone surrogates), so a
NUL in a path, a query or a form field used to reach the database and come back as a
500. Checking every request once here closes that for every view, present and future,
instead of view by view.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import Flask, request
from werkzeug.exceptions import BadRequest

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

MESSAGE = (
    "What you sent contains a character we cannot accept (such as a NUL byte). "
    "Please check what you entered and try again."
)


class UnstorableInput(BadRequest):
    description = MESSAGE


def storable(text: str) -> str:
    """`text` with the characters no database takes replaced by U+FFFD, for recording
    what was refused (the audit trail of a refused sign-in)."""
    return _UNSTORABLE.sub("\ufffd", text)


def _texts() -> Iterable[str]:
    yield request.path
    for key, value in request.args.items(multi=True):
        yield key
        yield value
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        for key, value in request.form.items(multi=True):
            yield key
            yield value


def init_app(app: Flask) -> None:
    """Register the check; call before anything else that reads the request (CSRF)."""

    @app.before_request
    def refuse_unstorable_input() -> None:
        if any(_UNSTORABLE.search(text) for text in _texts()):
            raise UnstorableInput()
