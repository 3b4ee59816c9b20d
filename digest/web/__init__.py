"""The web app's parts: blueprints, CSRF, rate limits, headers and error pages."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from digest.runtime import Runtime
from digest.web import api, context, errors, public, security, subscriptions
from digest.web.context import runtime
from digest.web.limits import form_field_key, limit_endpoint, make_limiter

csrf = CSRFProtect()
csrf.exempt("digest.web.subscriptions.unsubscribe")

BLUEPRINTS = (public.bp, subscriptions.bp, api.bp)


def init_app(app: Flask) -> None:
    rt: Runtime = app.extensions["digest"]
    config = rt.config
    if config.site.proxy_count:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=config.site.proxy_count,
            x_proto=config.site.proxy_count,
            x_host=config.site.proxy_count,
        )
    csrf.init_app(app)
    context.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    limiter = make_limiter(app, config.web.rate_limit_storage)
    app.extensions["digest.limiter"] = limiter
    secret = config.site.secret_key
    limit_endpoint(app, limiter, "subscriptions.subscribe", config.web.subscribe_limit_per_ip)
    limit_endpoint(
        app,
        limiter,
        "subscriptions.subscribe",
        config.web.subscribe_limit_per_email,
        key_func=form_field_key("email", secret),
    )
    app.jinja_env.globals.update(
        site=config.site, has_endpoint=lambda name: name in app.view_functions
    )
    app.jinja_env.filters.update(
        local_date=_local_date, local_time=_local_time, local_datetime=_local_datetime
    )


def _local(value: datetime) -> datetime:
    return value.astimezone(runtime().config.tz)


def _local_date(value: datetime) -> str:
    return _local(value).strftime("%A %-d %B %Y")


def _local_time(value: datetime) -> str:
    return _local(value).strftime("%-I:%M%p").lower().replace(":00", "")


def _local_datetime(value: datetime) -> str:
    return f"{_local_date(value)}, {_local_time(value)}"
