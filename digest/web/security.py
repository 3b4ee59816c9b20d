"""Response headers that make the pages safe by default."""

from __future__ import annotations

from flask import Flask, Response, request

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# Pages reached through a link with a token in its path: the URL must not leak to
# other sites through the Referer header. "same-origin" rather than "no-referrer",
# because over HTTPS Flask-WTF requires a same-origin Referer on every form POST
# (the confirm and manage forms live on these pages).
TOKEN_PATH_PREFIXES = ("/confirm/", "/unsubscribe/", "/manage/", "/requests/confirm/")


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault(
        "Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    )
    if request.path.startswith(TOKEN_PATH_PREFIXES):
        headers["Referrer-Policy"] = "same-origin"
        headers["Cache-Control"] = "no-store"
    else:
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
