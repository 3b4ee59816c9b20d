"""The admin console at /admin: every page needs a signed-in admin, every action is a
CSRF-protected POST recorded in the audit trail.

`bp` is the console's blueprint; the view modules (auth, dashboard, councils, people,
delivery) add their routes to it and `digest.web.register_blueprints` imports them before
registering it, so this package imports none of them.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
