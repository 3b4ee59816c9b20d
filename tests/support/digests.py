# ruff: noqa: E501  (template text is kept as it would be written in a template file)
"""A realistic weekly digest, built on our own email base template, for tests that need
digest-shaped mail before the real digest templates exist (issue 4)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from digest.mail import outbox
from digest.mail.compose import MANAGE_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from digest.mail.outbox import MessagePurpose
from digest.mail.render import environment, inline_css
from digest.models import Council, Digest, Subscription

MEETINGS = [
    (
        "Cabinet",
        "Tuesday 17 November 2026, 10:00",
        "Town Hall, Library Street",
        [
            (
                "Medium Term Financial Strategy 2027/28 to 2029/30",
                "Resolved: the draft budget "
                "proposals be approved for consultation, with a council tax increase of 2.99%.",
            ),
            (
                "Household waste collection changes",
                "Resolved: fortnightly collection of food "
                "waste to start in April 2027, subject to funding from government.",
            ),
        ],
    ),
    (
        "Planning Committee",
        "Thursday 19 November 2026, 14:00",
        "Council Chamber, Town Hall",
        [
            (
                "Land north of Atherton Road: 120 homes (A/26/0456/FUL)",
                "Resolved: approved "
                "subject to a section 106 agreement for affordable housing and a new bus stop.",
            ),
            (
                "Former Co-op building, Market Place: change of use to flats",
                "Deferred for a site visit.",
            ),
        ],
    ),
]
UPCOMING = [
    (
        "Overview and Scrutiny Committee",
        "Monday 23 November 2026, 18:00",
        ["Review of children's services improvement plan", "Air quality annual status report"],
    ),
    (
        "Licensing Sub-Committee",
        "Wednesday 25 November 2026, 10:00",
        ["Application for a premises licence: 14 Wallgate"],
    ),
]

HTML = """{% extends "email/_base/body.html" %}
{% block title %}{{ subject }}{% endblock %}
{% block style %}
  .meeting { margin: 0 0 16px; }
  .when { color: #4f5862; font-size: 14px; margin: 0 0 4px; }
  .outcome { margin: 4px 0 8px 16px; }
{% endblock %}
{% block content %}
      <h1>{{ council }}: this week at the council</h1>
      <p>2 meetings last week with 4 decisions; 2 meetings coming up this week.</p>
      <h2>Decided last week</h2>
{% for title, when, venue, items in meetings %}
      <div class="meeting">
        <h3><a href="https://democracy.wigan.gov.uk/ieListDocuments.aspx?CId=1{{ loop.index }}&amp;MId=40{{ loop.index }}">{{ title }}</a></h3>
        <p class="when">{{ when }} &middot; {{ venue }}</p>
{% for item, outcome in items %}
        <p><strong>{{ item }}</strong></p>
        <p class="outcome">{{ outcome }}</p>
{% endfor %}
      </div>
{% endfor %}
      <h2>Coming up this week</h2>
{% for title, when, items in upcoming %}
      <div class="meeting">
        <h3>{{ title }}</h3>
        <p class="when">{{ when }}</p>
        <ul>{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul>
      </div>
{% endfor %}
      <p class="muted">Source: the council's democracy website, last checked Monday 23 November 2026 at 06:00.</p>
{% endblock %}
{% block footer %}
      <p>You get this email because you subscribed to updates about {{ council }} on {{ site_name }}.</p>
      <p><a href="{{ manage }}">Manage your subscriptions</a> &middot; <a href="{{ unsubscribe }}">Unsubscribe from {{ council }}</a></p>
{% endblock %}
"""

TEXT = """{{ council }}: this week at the council
2 meetings last week with 4 decisions; 2 meetings coming up this week.

DECIDED LAST WEEK
{% for title, when, venue, items in meetings %}
{{ title }} - {{ when }}, {{ venue }}
{% for item, outcome in items %}
* {{ item }}
  {{ outcome }}
{% endfor %}
{% endfor %}
COMING UP THIS WEEK
{% for title, when, items in upcoming %}
{{ title }} - {{ when }}
{% for item in items %}* {{ item }}
{% endfor %}
{% endfor %}
Source: the council's democracy website, last checked Monday 23 November 2026 at 06:00.

You get this email because you subscribed to updates about {{ council }} on {{ site_name }}.
Manage your subscriptions: {{ manage }}
Unsubscribe from {{ council }}: {{ unsubscribe }}
"""


def make_digest(session: Session, council: Council, week: str, now: datetime) -> Digest:
    env = environment()
    context = {
        "council": council.name,
        "subject": f"{council.name}: your weekly council digest",
        "site_name": "Council Digest",
        "base_url": "https://councildigest.example.org",
        "contact_email": "hello@councildigest.example.org",
        "meetings": MEETINGS,
        "upcoming": UPCOMING,
        "manage": MANAGE_PLACEHOLDER,
        "unsubscribe": UNSUBSCRIBE_PLACEHOLDER,
    }
    html = inline_css(env.from_string(HTML).render(context))
    text = env.from_string(TEXT).render(context)
    digest = Digest(
        council_id=council.id,
        week=week,
        subject=context["subject"],
        body_text=text,
        body_html=html,
        web_html="",
        counts={"reported": 2, "upcoming": 2},
        is_quiet=False,
        built_at=now,
    )
    session.add(digest)
    session.flush()
    return digest


def enqueue_digest(
    session: Session, digest: Digest, subscription: Subscription, recipient: str, now: datetime
) -> None:
    outbox.enqueue_many(
        session,
        [
            {
                "purpose": MessagePurpose.WEEKLY_DIGEST.value,
                "reference": f"digest:{digest.id}",
                "recipient": recipient,
                "subscriber_id": subscription.subscriber_id,
                "subscription_id": subscription.id,
                "council_id": digest.council_id,
                "digest_id": digest.id,
            }
        ],
        now=now,
        domain="councildigest.example.org",
    )
