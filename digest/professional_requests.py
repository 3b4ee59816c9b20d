"""Professional enablement requests: someone who needs a waitlisted council for their
work asks for it; once they confirm their email the request counts as demand
(x professional_weight) and admins are told. Admins approve (by enabling the council)
or decline with a note; either way the requester hears back. Functions never commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import admins, subscriptions
from digest.addresses import InvalidEmail, ip_hash, normalise_email
from digest.db import fit
from digest.mail import outbox
from digest.mail.outbox import MessagePurpose
from digest.mail.queue import MailQueue
from digest.models import (
    Admin,
    Council,
    EnablementRequest,
    RequestStatus,
    SubscriptionKind,
)
from digest.subscriptions import LinkInvalid, LinkUsed, Origin, read_nonce_link
from digest.tokens import Purpose, Tokens

LIMITS = {"name": 200, "organisation": 200, "reason": 2000}


class RequestFormError(ValueError):
    """Some fields are missing or too long; `errors` maps field name to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class RequestForm:
    name: str
    organisation: str
    email: str
    reason: str

    def validated(self) -> RequestForm:
        errors: dict[str, str] = {}
        values = {
            "name": " ".join(self.name.split()),
            "organisation": " ".join(self.organisation.split()),
            "reason": self.reason.strip(),
        }
        labels = {
            "name": "your name",
            "organisation": "your organisation",
            "reason": "why you need this council",
        }
        for field, value in values.items():
            if not value:
                errors[field] = f"Enter {labels[field]}."
            elif len(value) > LIMITS[field]:
                errors[field] = f"Keep {labels[field]} under {LIMITS[field]} characters."
        email = ""
        try:
            email = normalise_email(self.email)
        except InvalidEmail as exc:
            errors["email"] = str(exc)
        if errors:
            raise RequestFormError(errors)
        return RequestForm(
            name=values["name"],
            organisation=values["organisation"],
            email=email,
            reason=values["reason"],
        )


def submit(
    session: Session,
    mail: MailQueue,
    *,
    council: Council,
    form: RequestForm,
    now: datetime,
    origin: Origin,
) -> None:
    """Record an open, unconfirmed request and email its confirmation link.

    Raises RequestFormError for bad input; otherwise the outcome looks the same from
    outside whatever the address's history.
    """
    clean = form.validated()
    sent_today = outbox.recent_for(
        session, clean.email, (MessagePurpose.CONFIRM_REQUEST,), now - timedelta(days=1)
    )
    if sent_today >= mail.config.mail.confirmations_per_day:
        return
    request = EnablementRequest(
        council_id=council.id,
        name=clean.name,
        organisation=clean.organisation,
        email=clean.email,
        reason=clean.reason,
        status=RequestStatus.OPEN,
        confirm_nonce=secrets.token_urlsafe(16),
        created_at=now,
        ip_hash=ip_hash(mail.config.site.secret_key, origin.ip) if origin.ip else "",
    )
    session.add(request)
    session.flush()
    assert request.confirm_nonce is not None
    mail.queue(
        session,
        template="confirm_request",
        purpose=MessagePurpose.CONFIRM_REQUEST,
        reference=f"request:{request.id}",
        recipient=clean.email,
        now=now,
        context={
            "council": council,
            "request": request,
            "confirm_url": mail.links.confirm_request(request.id, request.confirm_nonce),
            "expires_hours": 72,
        },
        council_id=council.id,
    )


def read_confirm_link(session: Session, tokens: Tokens, token: str) -> EnablementRequest:
    request_id, nonce = read_nonce_link(tokens, Purpose.CONFIRM_REQUEST, token)
    request = session.get(EnablementRequest, request_id)
    if request is None:
        raise LinkInvalid("no such request")
    if request.confirm_nonce is None or request.confirm_nonce != nonce:
        raise RequestLinkUsed(request)
    return request


class RequestLinkUsed(LinkUsed):
    def __init__(self, request: EnablementRequest) -> None:
        Exception.__init__(self, "request link already used")
        self.request = request


def confirm(
    session: Session, mail: MailQueue, *, token: str, now: datetime, origin: Origin, subscribe: bool
) -> EnablementRequest:
    """Confirm the requester's address; the request now counts as demand and admins are
    told. With `subscribe`, the requester also gets the council's digest as a professional
    subscriber (their address is proven by this very link)."""
    request = read_confirm_link(session, mail.links.tokens, token)
    council = session.get_one(Council, request.council_id)
    request.confirmed_at = now
    request.confirm_nonce = None
    if subscribe:
        subscriptions.add_confirmed(
            session,
            mail,
            council=council,
            email=request.email,
            now=now,
            origin=origin,
            kind=SubscriptionKind.PROFESSIONAL,
        )
    recipients = admins.admin_emails(session) or [mail.config.site.contact_email]
    for recipient in recipients:
        mail.queue(
            session,
            template="request_received",
            purpose=MessagePurpose.REQUEST_RECEIVED,
            reference=f"request:{request.id}",
            recipient=recipient,
            now=now,
            context={
                "council": council,
                "request": request,
                "admin_url": mail.links.url("/admin/requests"),
            },
            council_id=council.id,
        )
    return request


def decide(
    session: Session,
    mail: MailQueue,
    request: EnablementRequest,
    *,
    approve: bool,
    admin: Admin | None,
    note: str,
    now: datetime,
) -> bool:
    """Approve or decline an open request and tell the requester; False if it was not
    open and confirmed (nothing changes then)."""
    if request.status != RequestStatus.OPEN or request.confirmed_at is None:
        return False
    council = session.get_one(Council, request.council_id)
    request.status = RequestStatus.APPROVED if approve else RequestStatus.DECLINED
    request.decided_at = now
    request.decided_by_id = admin.id if admin else None
    request.decision_note = fit(EnablementRequest.decision_note, note.strip())
    mail.queue(
        session,
        template="request_decided",
        purpose=MessagePurpose.REQUEST_DECIDED,
        reference=f"request:{request.id}",
        recipient=request.email,
        now=now,
        context={
            "council": council,
            "request": request,
            "approved": approve,
            "council_url": mail.links.council(council.slug),
        },
        council_id=council.id,
    )
    return True


def approve_open(
    session: Session, mail: MailQueue, council: Council, *, admin: Admin | None, now: datetime
) -> int:
    """Approve every open, confirmed request for a council that has just been enabled."""
    approved = 0
    for request in open_requests(session, council_id=council.id):
        approved += decide(
            session,
            mail,
            request,
            approve=True,
            admin=admin,
            note="The council is now live.",
            now=now,
        )
    return approved


# Open requests count as demand and wait for an admin only once confirmed.
_OPEN_AND_CONFIRMED = (
    EnablementRequest.status == RequestStatus.OPEN,
    EnablementRequest.confirmed_at.is_not(None),
)


def count_open(session: Session) -> int:
    """Confirmed requests awaiting a decision."""
    stmt = sa.select(sa.func.count()).select_from(EnablementRequest).where(*_OPEN_AND_CONFIRMED)
    return session.scalar(stmt) or 0


def open_requests(session: Session, *, council_id: int | None = None) -> list[EnablementRequest]:
    stmt = sa.select(EnablementRequest).where(*_OPEN_AND_CONFIRMED)
    if council_id is not None:
        stmt = stmt.where(EnablementRequest.council_id == council_id)
    return list(session.scalars(stmt.order_by(EnablementRequest.confirmed_at)))


def all_requests(session: Session, limit: int = 200) -> list[tuple[EnablementRequest, Council]]:
    rows = session.execute(
        sa.select(EnablementRequest, Council)
        .join(Council, Council.id == EnablementRequest.council_id)
        .order_by(EnablementRequest.created_at.desc())
        .limit(limit)
    )
    return [(r, c) for r, c in rows]
