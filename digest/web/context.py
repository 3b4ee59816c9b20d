"""Per-request access to the runtime and a database session (flaskr's get_db pattern).

GET and HEAD requests get a read-only session; anything else a writable one that the
view commits. Either way it is closed at the end of the request, rolling back whatever
was not committed.
"""

from __future__ import annotations

from typing import cast

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from digest.runtime import Runtime
from digest.subscriptions import Origin


def runtime() -> Runtime:
    return cast(Runtime, current_app.extensions["digest"])


def db() -> Session:
    if "db_session" not in g:
        rt = runtime()
        maker = rt.read_sessions if request.method in ("GET", "HEAD") else rt.sessions
        g.db_session = maker()
    return cast(Session, g.db_session)


def origin() -> Origin:
    return Origin(source=request.path, ip=request.remote_addr)


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_session)
