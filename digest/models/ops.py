"""Admins, their audit trail, and the heartbeats and job runs operators watch."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from digest.db import Base


class Admin(Base):
    __tablename__ = "admins"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    # Bumped on logout and password change; sessions carrying an older value are refused.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class AdminAction(Base):
    """Who did what to what, and when; never edited."""

    __tablename__ = "admin_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int | None] = mapped_column(sa.ForeignKey("admins.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(sa.String(320))
    action: Mapped[str] = mapped_column(sa.String(80))
    target: Mapped[str] = mapped_column(sa.String(200), default="")
    # The audit trail keeps what an admin typed, within reason.
    detail: Mapped[str] = mapped_column(sa.Text, default="", info={"max_length": 4000})
    occurred_at: Mapped[datetime] = mapped_column(index=True)


class Heartbeat(Base):
    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    beat_at: Mapped[datetime]
    detail: Mapped[str] = mapped_column(sa.Text, default="")


class JobRun(Base):
    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(sa.String(80), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    ok: Mapped[bool | None]
    summary: Mapped[str] = mapped_column(sa.Text, default="", info={"max_length": 4000})
