"""Real DSNs from a real MTA: our worker sends over SMTP to a throwaway Debian Postfix on
loopback (tests/support/postfix.py), Postfix fails the recipients the way an MX does --
unknown local user, full mailbox, unknown domain -- and returns its own DSNs to our VERP
return path, which a loopback sink receives. Those DSNs, unedited, go through
`process_message`, and each must be classified right."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest.bounces import record
from digest.bounces.process import BounceSummary, process_message
from digest.models import BounceEvent, BounceKind, OutboxMessage, SuppressionReason
from digest.runtime import Runtime
from tests.conftest import make_config
from tests.integration.helpers import active_subscription, deliver
from tests.integration.test_bounces import is_suppressed
from tests.support.clock import Clock
from tests.support.postfix import FULL_DOMAIN, LOCAL_DOMAIN, Postfix, running_postfix
from tests.support.smtp import SmtpSink, start_sink

BOUNCE_DOMAIN = "bounces.councildigest.example.org"
UNKNOWN_USER = f"nosuchuser@{LOCAL_DOMAIN}"
FULL = f"full@{FULL_DOMAIN}"
UNKNOWN_DOMAIN = "someone@no-such-domain.example"


@pytest.fixture
def bounce_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    controller = start_sink(sink)
    yield sink
    controller.stop()


@pytest.fixture
def postfix(bounce_sink: SmtpSink) -> Iterator[Postfix]:
    with running_postfix(BOUNCE_DOMAIN, bounce_sink.port) as instance:
        yield instance


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_postfix_dsns_are_classified_right(
    tmp_path: Path, engine: Engine, clock: Clock, postfix: Postfix, bounce_sink: SmtpSink
) -> None:
    config = make_config(
        tmp_path,
        engine,
        mail={
            "backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": postfix.port,
            "bounce_domain": BOUNCE_DOMAIN,
        },
    )
    rt = Runtime.from_config(config, engine=engine)
    rt.clock = clock
    for address in (UNKNOWN_USER, FULL, UNKNOWN_DOMAIN):
        active_subscription(rt, address, "wigan")
    deliver(rt)  # three welcome emails, accepted by Postfix

    try:
        returned = bounce_sink.wait_for(3, timeout=60)
    except AssertionError:
        pytest.fail(f"Postfix returned {len(bounce_sink.messages)} DSNs:\n{postfix.log()}")
    assert all(m.mail_from == "<>" or m.mail_from == "" for m in returned)
    summary = BounceSummary()
    with rt.sessions.begin() as session:
        for message in returned:
            process_message(
                session,
                message.data,
                secret_key=rt.config.site.secret_key,
                now=rt.now(),
                summary=summary,
                rules=record.Rules.of(rt.config.mail),
            )
    with rt.read_sessions() as session:
        verdicts = {
            recipient: (kind, status)
            for recipient, kind, status in session.execute(
                sa.select(OutboxMessage.recipient, BounceEvent.kind, BounceEvent.status_code).join(
                    OutboxMessage, OutboxMessage.id == BounceEvent.outbox_message_id
                )
            )
        }
    print(f"\nPostfix DSNs: {summary.line()}")
    for recipient, verdict in sorted(verdicts.items()):
        print(f"  {recipient}: {verdict[0].value} {verdict[1]}")
    assert verdicts == {
        UNKNOWN_USER: (BounceKind.HARD, "5.1.1"),
        FULL: (BounceKind.SOFT, "5.2.2"),
        UNKNOWN_DOMAIN: (BounceKind.HARD, "5.4.4"),
    }
    assert is_suppressed(rt, UNKNOWN_USER) == SuppressionReason.HARD_BOUNCE
    assert is_suppressed(rt, UNKNOWN_DOMAIN) == SuppressionReason.HARD_BOUNCE
    assert is_suppressed(rt, FULL) is None  # one full mailbox is not yet a dead address
    # The unknown domain was looked up on our loopback DNS server, nowhere else.
    assert any(b"no-such-domain" in query for query in postfix.dns_queries)
