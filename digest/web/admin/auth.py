"""Admin sign-in: argon2id passwords, rate-limited login, idle and absolute timeouts,
and sessions that logout (or a password change) revokes everywhere.

Flask's session is a signed cookie, so it cannot be revoked by deleting it server-side;
each admin carries a `session_version` that the cookie must match instead.
"""

from __future__ import annotations

from typing import cast
from urllib.parse import urlsplit

from flask import flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from digest import admins
from digest.models import Admin
from digest.web.admin import bp
from digest.web.context import db, runtime
from digest.web.input import UnstorableInput, storable

ABSOLUTE_LIFETIME_SECONDS = 12 * 3600
PUBLIC_ENDPOINTS = frozenset({"admin.login"})


def current_admin() -> Admin | None:
    """The signed-in admin, or None; refreshes the idle timer."""
    admin_id = session.get("admin_id")
    if not isinstance(admin_id, int):
        return None
    admin = db().get(Admin, admin_id)
    now = runtime().now().timestamp()
    idle = runtime().config.web.admin_idle_minutes * 60
    if (
        admin is None
        or session.get("admin_v") != admin.session_version
        or now - float(session.get("admin_seen", 0)) > idle
        or now - float(session.get("admin_since", 0)) > ABSOLUTE_LIFETIME_SECONDS
    ):
        _forget()
        return None
    session["admin_seen"] = now
    return admin


def signed_in() -> Admin:
    return cast(Admin, g.admin)


def _forget() -> None:
    for key in ("admin_id", "admin_v", "admin_seen", "admin_since"):
        session.pop(key, None)


@bp.before_request
def require_admin() -> BaseResponse | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    admin = current_admin()
    if admin is None:
        return redirect(
            url_for("admin.login", next=request.path), code=303 if request.method == "POST" else 302
        )
    g.admin = admin
    return None


@bp.after_request
def never_cache(response: BaseResponse) -> BaseResponse:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def safe_admin_path(target: str | None, default: str) -> str:
    """`target` if it is a path inside the console, else `default`: forms and links that
    say where to go next (login's `next`, a form's `back`) cannot send anyone off-site.
    Backslashes count as slashes (browsers read `/\\evil.example` as `//evil.example`)."""
    if (
        target
        and target.startswith("/admin")
        and target.isprintable()
        and "\\" not in target
        and "//" not in target
        and not urlsplit(target).netloc
        and not urlsplit(target).scheme
    ):
        return target
    return default


def _safe_next(target: str | None) -> str:
    return safe_admin_path(target, url_for("admin.dashboard"))


@bp.errorhandler(UnstorableInput)
def refused_sign_in(exc: UnstorableInput) -> tuple[str, int]:
    """A sign-in refused for its characters is still a failed sign-in, and audited."""
    if request.endpoint == "admin.login" and request.method == "POST":
        database = db()
        admins.record(
            database,
            actor=storable(admins.login_address(storable(request.form.get("email", ""))))
            or "(blank)",
            action="login.failed",
            now=runtime().now(),
            detail=f"from {request.remote_addr}: refused characters",
        )
        database.commit()
    return render_template(
        "errors/error.html",
        code=400,
        title="Something was wrong with that request",
        message=exc.description,
    ), 400


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int]:
    if request.method == "GET":
        if current_admin() is not None:
            return redirect(url_for("admin.dashboard"))
        return render_template("admin/login.html", email="", error=None), 200
    rt = runtime()
    email = request.form.get("email", "")
    database = db()
    admin = admins.authenticate(database, email, request.form.get("password", "")[:1024], rt.now())
    if admin is None:
        admins.record(
            database,
            actor=admins.login_address(email) or "(blank)",
            action="login.failed",
            now=rt.now(),
            detail=f"from {request.remote_addr}",
        )
        database.commit()
        return render_template(
            "admin/login.html",
            email=email[:320],
            error="The email address or password is not right.",
        ), 401
    # A new session on every sign-in: nothing from before (including a CSRF token an
    # attacker may have planted) carries over.
    session.clear()
    session["admin_id"] = admin.id
    session["admin_v"] = admin.session_version
    session["admin_seen"] = session["admin_since"] = rt.now().timestamp()
    admins.record(
        database,
        admin=admin,
        actor=admin.email,
        action="login",
        now=rt.now(),
        detail=f"from {request.remote_addr}",
    )
    database.commit()
    return redirect(_safe_next(request.args.get("next")), code=303)


@bp.post("/logout")
def logout() -> BaseResponse:
    admin = signed_in()
    database = db()
    admin.session_version += 1  # ends this admin's sessions on every device
    admins.record(database, admin=admin, actor=admin.email, action="logout", now=runtime().now())
    database.commit()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("admin.login"), code=303)


def audit(action: str, target: str = "", detail: str = "") -> None:
    """Record an action of the signed-in admin in the current (writable) session."""
    admin = signed_in()
    admins.record(
        db(),
        admin=admin,
        actor=admin.email,
        action=action,
        target=target,
        detail=detail,
        now=runtime().now(),
    )
