"""All models, importable from one place."""

from digest.db import Base, never_reuse_ids
from digest.models.council import Committee, Council, FetchValidator
from digest.models.digest import Digest, DigestMeeting
from digest.models.enums import (
    BLOCKING_SUPPRESSIONS,
    BounceKind,
    ChangeKind,
    ConsentEventKind,
    CouncilStatus,
    CouncilSystem,
    DigestSection,
    MeetingStatus,
    OutboxStatus,
    RequestStatus,
    SubscriptionKind,
    SubscriptionStatus,
    SuppressionReason,
)
from digest.models.finding import Councillor, LookupCache, SearchEntry
from digest.models.mail import (
    BounceEvent,
    DeliveryCounter,
    DomainPause,
    OutboxMessage,
    Suppression,
)
from digest.models.meeting import (
    AgendaItem,
    Attendee,
    Document,
    Meeting,
    MeetingChange,
    MeetingFetchFailure,
)
from digest.models.ops import Admin, AdminAction, Heartbeat, JobRun
from digest.models.people import (
    ConsentEvent,
    EnablementRequest,
    SignupIntake,
    Subscriber,
    Subscription,
    Watch,
)

never_reuse_ids(Base.metadata)

__all__ = [
    "BLOCKING_SUPPRESSIONS",
    "Admin",
    "AdminAction",
    "AgendaItem",
    "Attendee",
    "BounceEvent",
    "BounceKind",
    "ChangeKind",
    "Committee",
    "ConsentEvent",
    "ConsentEventKind",
    "Council",
    "CouncilStatus",
    "CouncilSystem",
    "Councillor",
    "DeliveryCounter",
    "Digest",
    "DigestMeeting",
    "DigestSection",
    "Document",
    "DomainPause",
    "EnablementRequest",
    "FetchValidator",
    "Heartbeat",
    "JobRun",
    "LookupCache",
    "Meeting",
    "MeetingChange",
    "MeetingFetchFailure",
    "MeetingStatus",
    "OutboxMessage",
    "OutboxStatus",
    "RequestStatus",
    "SearchEntry",
    "SignupIntake",
    "Subscriber",
    "Subscription",
    "SubscriptionKind",
    "SubscriptionStatus",
    "Suppression",
    "SuppressionReason",
    "Watch",
]
