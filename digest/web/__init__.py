"""The web app's parts: blueprints, CSRF, rate limits, headers and error pages."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from digest.runtime import Runtime
from digest.web import (
    admin,
    api,
    api_digests,
    context,
    councillors,
    digests,
    errors,
    feeds,
    input,
    meetings,
    ops,
    page_cache,
    public,
    requests,
    search,
    security,
    subscriptions,
    topics,
    watch,
)
from digest.web.admin import auth, councils, dashboard, delivery, people
from digest.web.context import runtime
from digest.web.limits import RateLimits, form_field_key
from digest.words import plural


class _CSRFProtect(CSRFProtect):  # type: ignore[misc]
    """Flask-WTF's check, with a Referer it cannot even parse (`https://[::1`) refused as
    a CSRF failure (the CSRF page) instead of escaping as a ValueError (a 500)."""

    def protect(self, apply_exemptions: bool = False) -> None:
        try:
            super().protect(apply_exemptions)
        except ValueError:
            self._error_response("The referrer header is malformed.")


csrf = _CSRFProtect()
csrf.exempt("digest.web.subscriptions.unsubscribe")
csrf.exempt("digest.web.watch.unsubscribe")


# Modules that add routes to a blueprint defined elsewhere: the admin console's views to
# `admin.bp`, and the JSON routes of digests to the one /api/v1 blueprint, `api.bp` (as do
# councillors, search and topics beside their own pages). Importing them attaches them.
ROUTES_ON_SHARED_BLUEPRINTS = (api_digests, auth, councils, dashboard, delivery, people)


def register_blueprints(app: Flask) -> None:
    """Every page and API route, registered here and nowhere else."""
    for blueprint in (
        public.bp,
        subscriptions.bp,
        requests.bp,
        api.bp,
        admin.bp,
        ops.bp,
        meetings.bp,
        digests.bp,
        feeds.bp,
        search.bp,
        councillors.bp,
        topics.bp,
        watch.bp,
    ):
        app.register_blueprint(blueprint)


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
    input.init_app(app)  # first: nothing may read what no database can store
    csrf.init_app(app)
    context.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    register_blueprints(app)
    limits = RateLimits(config.web.rate_limit_storage)
    secret = config.site.secret_key
    web = config.web
    by_email = form_field_key("email", secret)
    # (endpoint, limit, key): per client IP unless keyed by the address typed in, so one
    # inbox or admin account cannot be hammered from many IPs either.
    endpoint_limits = [
        ("subscriptions.subscribe", web.subscribe_limit_per_ip, None),
        ("subscriptions.subscribe", web.subscribe_limit_per_email, by_email),
        ("requests.request_council", web.request_limit_per_ip, None),
        ("requests.request_council", web.subscribe_limit_per_email, by_email),
        ("watch.submit", web.subscribe_limit_per_ip, None),
        ("watch.submit", web.subscribe_limit_per_email, by_email),
        ("admin.login", web.login_limit_per_ip, None),
        ("admin.login", web.login_limit_per_ip, by_email),
    ]
    for endpoint, limit, key in endpoint_limits:
        limits.limit_endpoint(app, endpoint, limit, key_func=key)
    limits.watch(app)
    app.extensions["digest_limits"] = limits
    app.jinja_env.globals.update(
        site=config.site,
        has_endpoint=lambda name: name in app.view_functions,
        csrf_token=page_cache.csrf_token,
    )
    app.jinja_env.filters.update(
        local_date=_local_date,
        local_time=_local_time,
        local_datetime=_local_datetime,
        plural=plural,
    )


def _local(value: datetime) -> datetime:
    return value.astimezone(runtime().config.tz)


def _local_date(value: datetime) -> str:
    return _local(value).strftime("%A %-d %B %Y")


def _local_time(value: datetime) -> str:
    return _local(value).strftime("%-I:%M%p").lower().replace(":00", "")


def _local_datetime(value: datetime) -> str:
    return f"{_local_date(value)}, {_local_time(value)}"
