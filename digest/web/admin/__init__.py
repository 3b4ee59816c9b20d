"""The admin console at /admin: every page needs a signed-in admin, every action is a
CSRF-protected POST recorded in the audit trail."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The view modules register their routes on `bp` when imported.
from digest.web.admin import auth, councils, dashboard, delivery, people  # noqa: E402

__all__ = ["auth", "bp", "councils", "dashboard", "delivery", "people"]
