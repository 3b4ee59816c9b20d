"""The states every model moves through, stored by value (e.g. 'waitlist')."""

from __future__ import annotations

import enum


class CouncilStatus(enum.StrEnum):
    WAITLIST = "waitlist"
    ENABLED = "enabled"
    PAUSED = "paused"


class CouncilSystem(enum.StrEnum):
    MODERNGOV = "moderngov"
    CMIS = "cmis"
    JADU = "jadu"
    OTHER = "other"
    UNKNOWN = "unknown"


# Systems the collector has a source for (digest/collector/planner.py SOURCES; a test keeps
# the two in step). Councils on any other system cannot be collected yet.
COLLECTABLE_SYSTEMS = frozenset({CouncilSystem.MODERNGOV, CouncilSystem.CMIS})


class MeetingStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    HELD = "held"
    RESCHEDULED = "rescheduled"


class ChangeKind(enum.StrEnum):
    NEW = "new"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    REINSTATED = "reinstated"
    AGENDA_PUBLISHED = "agenda_published"
    MINUTES_PUBLISHED = "minutes_published"


class SubscriptionKind(enum.StrEnum):
    RESIDENT = "resident"
    PROFESSIONAL = "professional"


class SubscriptionStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"


class ConsentEventKind(enum.StrEnum):
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    DECLINED = "declined"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class SuppressionReason(enum.StrEnum):
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"
    ERASED = "erased"
    MANUAL = "manual"


# Reasons that stop every email to the address, confirmations included (the delivery
# engine checks them at send time; digest.suppressions says what each means).
BLOCKING_SUPPRESSIONS = frozenset(
    {
        SuppressionReason.HARD_BOUNCE,
        SuppressionReason.SOFT_BOUNCE,
        SuppressionReason.COMPLAINT,
        SuppressionReason.MANUAL,
    }
)


class BounceKind(enum.StrEnum):
    HARD = "hard"
    SOFT = "soft"
    # Refused for a reason that is about the sender (our IP, domain, authentication,
    # content or rate): never suppresses the recipient. Was "policy" before 0007.
    ABOUT_US = "about_us"
    COMPLAINT = "complaint"
    NOT_BOUNCE = "not_bounce"


class DigestSection(enum.StrEnum):
    REPORTED = "reported"
    CANCELLED = "cancelled"
    MINUTES = "minutes"
    UPCOMING = "upcoming"
