"""Admin accounts (argon2id passwords) and the audit trail of what admins did."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from digest.addresses import address_key, normalise_email
from digest.db import fit
from digest.models import Admin, AdminAction

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
_hasher = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4
# Verified when the email is unknown, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password; keeps timing uniform")


class AdminError(ValueError):
    """An admin account cannot be created or changed as asked; the message says why."""


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AdminError("The password is too long.")
    if len(set(password)) < 4:
        raise AdminError("The password is too easy to guess.")


def create_admin(session: Session, email: str, password: str, now: datetime) -> Admin:
    address = normalise_email(email)
    check_password_rules(password)
    if session.scalar(sa.select(Admin.id).where(Admin.email == address)) is not None:
        raise AdminError(f"An admin with the address {address} already exists.")
    admin = Admin(email=address, password_hash=_hasher.hash(password), created_at=now)
    session.add(admin)
    session.flush()
    return admin


def set_password(session: Session, admin: Admin, password: str) -> None:
    """Change the password and end every existing session of this admin."""
    check_password_rules(password)
    admin.password_hash = _hasher.hash(password)
    admin.session_version += 1


def authenticate(session: Session, email: str, password: str, now: datetime) -> Admin | None:
    """The admin whose credentials these are, or None; same cost either way.

    `email` is the field as typed: it is normalised here exactly as the per-account rate
    limit normalises it (login_address), so no spelling of an address gets past one and
    into the other."""
    address = login_address(email)
    admin = (
        session.scalar(sa.select(Admin).where(Admin.email == address))
        if address and len(address) <= 320
        else None
    )
    try:
        _hasher.verify(admin.password_hash if admin else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if admin is None:
        return None
    if _hasher.check_needs_rehash(admin.password_hash):
        admin.password_hash = _hasher.hash(password)
    admin.last_login_at = now
    return admin


def login_address(email: str) -> str:
    """The account a sign-in form's email field names, as sign-in and its rate limit see it."""
    return address_key(email or "")


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    now: datetime,
    admin: Admin | None = None,
    target: str = "",
    detail: str = "",
) -> AdminAction:
    """Add a line to the audit trail (who did what to what, and when)."""
    row = AdminAction(
        admin_id=admin.id if admin else None,
        actor=fit(AdminAction.actor, actor),
        action=fit(AdminAction.action, action),
        target=fit(AdminAction.target, target),
        detail=fit(AdminAction.detail, detail),
        occurred_at=now,
    )
    session.add(row)
    return row


def recent_actions(session: Session, limit: int = 200) -> list[AdminAction]:
    return list(
        session.scalars(
            sa.select(AdminAction)
            .order_by(AdminAction.occurred_at.desc(), AdminAction.id.desc())
            .limit(limit)
        )
    )


def admin_emails(session: Session) -> list[str]:
    return list(session.scalars(sa.select(Admin.email).order_by(Admin.id)))
