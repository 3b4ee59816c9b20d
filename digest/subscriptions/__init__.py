"""The subscription lifecycle, double opt-in: sign up -> confirm -> (unsubscribe), plus
the subscriber's rights. Each stage has its module:

* `signup` -- plan and apply a subscribe request; from the form, `accept` now and
  `take_in` moments later (the delivery loop's intake hook);
* `confirm` -- the links in our emails, confirming, adding a proved address,
  unsubscribing;
* `emails` -- the subscription emails, rendered when they are sent (the delivery
  engine's send-time renderer);
* `rights` -- export, erasure and the purge of what was never confirmed;
* `records` -- the only writers of subscribers, subscriptions and consent events.

The names below are the package's interface; callers use `subscriptions.<name>`.
Functions here never commit.
"""

from digest.subscriptions.confirm import (
    LinkExpired,
    LinkInvalid,
    LinkProblem,
    LinkUsed,
    add_confirmed,
    confirm,
    read_confirm_link,
    read_manage_link,
    read_nonce_link,
    read_unsubscribe_link,
    unsubscribe,
    unsubscribe_all,
)
from digest.subscriptions.emails import (
    SendTimeEmails,
    next_digest_label,
    send_manage_link,
    welcome_context,
)
from digest.subscriptions.records import Origin, ensure_subscriber
from digest.subscriptions.rights import (
    ERASED_TABLES,
    PENDING_LIFETIME,
    bounces_of,
    consent_record,
    erase,
    export,
    purge_unconfirmed,
    subscriptions_of,
)
from digest.subscriptions.signup import (
    SubscribeAction,
    SubscribePlan,
    apply_subscribe,
    plan_subscribe,
    subscribe,
)

__all__ = [
    "ERASED_TABLES",
    "PENDING_LIFETIME",
    "LinkExpired",
    "LinkInvalid",
    "LinkProblem",
    "LinkUsed",
    "Origin",
    "SendTimeEmails",
    "SubscribeAction",
    "SubscribePlan",
    "add_confirmed",
    "apply_subscribe",
    "bounces_of",
    "confirm",
    "consent_record",
    "ensure_subscriber",
    "erase",
    "export",
    "next_digest_label",
    "plan_subscribe",
    "purge_unconfirmed",
    "read_confirm_link",
    "read_manage_link",
    "read_nonce_link",
    "read_unsubscribe_link",
    "send_manage_link",
    "subscribe",
    "subscriptions_of",
    "unsubscribe",
    "unsubscribe_all",
    "welcome_context",
]
