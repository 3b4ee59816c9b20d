"""Friendly error pages (HTML for people, JSON under /api/)."""

from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from digest.web.input import UnstorableInput

MESSAGES = {
    400: (
        "Something was wrong with that request",
        "Please go back, check what you entered and try again.",
    ),
    404: (
        "Page not found",
        "The page or link you followed does not exist. "
        "If you typed the address, check it is correct.",
    ),
    405: ("That did not work", "This page cannot be used that way."),
    410: ("This link has expired", "Links in our emails only work for a limited time."),
    413: ("That was too much", "The form you sent was too large."),
    429: (
        "Too many attempts",
        "You have tried this too many times in a short time. "
        "Please wait a few minutes and try again.",
    ),
    500: (
        "Sorry, something went wrong on our side",
        "Please try again later. Nothing you entered has been lost or half-saved.",
    ),
}


def _render(code: int, detail: str | None = None) -> tuple[Response | str, int]:
    title, message = MESSAGES.get(code, MESSAGES[500 if code >= 500 else 400])
    if request.path.startswith("/api/"):
        return jsonify({"error": title, "status": code}), code
    return render_template(
        "errors/error.html", code=code, title=title, message=detail or message
    ), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_exc: CSRFError) -> tuple[Response | str, int]:
        return _render(
            400,
            "This form has expired or was not sent from our site. "
            "Please go back, reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | HTTPException:
        if exc.code is None or exc.code < 400:
            return exc
        # Unhandled exceptions arrive here as InternalServerError, already logged by Flask.
        # Our own 400s (UnstorableInput) carry a message for the person.
        detail = exc.description if isinstance(exc, UnstorableInput) else None
        response = make_response(_render(exc.code, detail))
        # Keep what the exception tells the client to do next (Retry-After on 429,
        # Allow on 405); its own Content-Type belongs to werkzeug's plain page.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
