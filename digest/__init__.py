"""Council Digest: weekly email digests of UK council meetings.

`create_app` is the only thing importing this package gives you; nothing connects,
schedules or reads the clock at import time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from digest.config import Config
    from digest.runtime import Runtime

__all__ = ["create_app"]


def create_app(config: Config | None = None, *, runtime: Runtime | None = None) -> Flask:
    """The web application. `gunicorn "digest:create_app()"` reads the config file."""
    # Imported here, not at the top: `import digest.words` (or any pure helper) runs this
    # package's __init__ first, and must not load Flask, the database and the mail engine.
    from flask import Flask

    from digest import web
    from digest.config import STATIC_DIR, TEMPLATES_DIR, load_config
    from digest.runtime import Runtime

    if runtime is None:
        runtime = Runtime.from_config(config if config is not None else load_config())
    config = runtime.config
    app = Flask("digest", template_folder=str(TEMPLATES_DIR), static_folder=str(STATIC_DIR))
    secure = config.site.base_url.startswith("https://")
    app.config.update(
        SECRET_KEY=config.site.secret_key,
        SERVER_NAME=None,
        PREFERRED_URL_SCHEME="https" if secure else "http",
        SESSION_COOKIE_NAME="__Host-session" if secure else "session",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=256 * 1024,
        WTF_CSRF_TIME_LIMIT=12 * 3600,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["digest"] = runtime
    web.init_app(app)
    return app
