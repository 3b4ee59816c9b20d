"""The whole weekly path with real components: meetings in the database → `digest build`
→ `digest send` over SMTP to a loopback server → the message a subscriber receives, and
the same digest on the web archive.

The commands read the wall clock, so the meetings are placed around the real current week.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from digest.cli import main
from digest.clock import utcnow
from digest.models import ChangeKind, MeetingStatus, Subscription, SubscriptionStatus
from digest.runtime import Runtime
from digest.tokens import Purpose
from digest.weekly.weeks import IsoWeek
from tests.integration.helpers import active_subscription, write_config_file
from tests.support.clock import Clock
from tests.support.mail import body, path_of, subject, unsubscribe_tokens
from tests.support.meetings import Item, add_meeting, enable
from tests.support.smtp import SmtpSink
from tests.support.web import text

LONDON = ZoneInfo("Europe/London")


def smtp_config(tmp_path: Path, engine: Engine, rt: Runtime, sink: SmtpSink) -> Path:
    return write_config_file(
        tmp_path,
        engine,
        rt,
        f'backend = "smtp"\nsmtp_host = "127.0.0.1"\nsmtp_port = {sink.port}',
    )


def test_meetings_to_inbox_and_archive(
    tmp_path: Path,
    engine: Engine,
    rt: Runtime,
    clock: Clock,
    smtp_sink: SmtpSink,
    client: FlaskClient,
) -> None:
    now = utcnow()
    clock.set(now - timedelta(hours=1))
    week = IsoWeek.of(now, LONDON)
    last = week.previous()
    with rt.sessions.begin() as session:
        council = enable(session, "manchester", clock.now, collected=now - timedelta(hours=1))
        add_meeting(
            session,
            council,
            on=last.monday + timedelta(days=1),
            committee="Executive",
            items=[
                Item(
                    "Clean Air Zone",
                    minutes="The Executive considered the report.\n\nRESOLVED – That the "
                    "Clean Air Zone charges be withdrawn.",
                ),
                Item("Land at Ancoats", restricted=True),
            ],
        )
        add_meeting(
            session,
            council,
            on=last.monday + timedelta(days=3),
            committee="Licensing Sub-Committee",
            status=MeetingStatus.CANCELLED,
            changes=[(ChangeKind.CANCELLED, clock.now - timedelta(days=2))],
        )
        add_meeting(
            session,
            council,
            on=week.monday + timedelta(days=2),
            committee="Planning and Highways Committee",
            items=[Item("Mayfield Park phase 2", agenda="An application for 1,500 homes.")],
            documents=[("Public reports pack", "https://democracy.manchester.gov.uk/pack.pdf")],
        )
    subscription_id = active_subscription(rt, "reader@example.net", "manchester")
    config = smtp_config(tmp_path, engine, rt, smtp_sink)
    runner = CliRunner()

    built = runner.invoke(main, ["--config", str(config), "build", "--week", week.label])
    assert built.exit_code == 0, built.output
    assert f"{week.label}: 1 councils, 1 digests built (0 quiet), 1 emails queued." in built.output
    sent = runner.invoke(main, ["--config", str(config), "send"])
    assert sent.exit_code == 0, sent.output

    [message] = digests_to(smtp_sink, "reader@example.net")
    assert subject(message) == (
        "Manchester: 1 decision from 1 meeting last week, 1 meeting this week, 1 cancelled"
    )
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(f"{rt.config.site.base_url}/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Archive"] == f"<{rt.links.digests('manchester')}>"
    plain, html = body(message), body(message, "html")
    for part in (plain, html):
        tokens = unsubscribe_tokens(part)
        assert tokens and {rt.tokens.read(Purpose.UNSUBSCRIBE, t)[0] for t in tokens} == {
            subscription_id
        }
        assert f"{rt.config.site.base_url}/manage/" in part
        assert "link.invalid" not in part
        assert "Clean Air Zone charges be withdrawn." in part
        assert "1 item considered in private" in part
        assert "Licensing Sub-Committee" in part
        assert "Mayfield Park phase 2" in part and "An application for 1,500 homes." in part
        assert "Public reports pack" in part
    assert re.search(r'<a href="[^"]*/unsubscribe/[^"]+"[^>]*>Unsubscribe from Manchester', html)

    # Building and sending again changes nothing.
    again = runner.invoke(main, ["--config", str(config), "build", "--week", week.label])
    assert "0 digests built (0 quiet), 0 emails queued." in again.output
    runner.invoke(main, ["--config", str(config), "send"])
    assert len(digests_to(smtp_sink, "reader@example.net")) == 1

    # The same digest is on the web archive, without the reader's links.
    page = text(client.get(f"/councils/manchester/digests/{week.label}"))
    assert "Clean Air Zone charges be withdrawn." in page
    assert path_of(unsubscribe) not in page

    # The link in the digest is this reader's own one-click unsubscribe.
    assert (
        client.post(path_of(unsubscribe), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    )
    with rt.read_sessions() as session:
        found = session.get(Subscription, subscription_id)
        assert found is not None and found.status == SubscriptionStatus.UNSUBSCRIBED


def digests_to(sink: SmtpSink, address: str) -> list[EmailMessage]:
    found = [received.message for received in sink.to(address)]
    return [m for m in found if m["List-Archive"] is not None]  # only digests carry an archive


def test_build_command_errors(
    tmp_path: Path, engine: Engine, rt: Runtime, smtp_sink: SmtpSink
) -> None:
    config = smtp_config(tmp_path, engine, rt, smtp_sink)
    runner = CliRunner()
    bad_week = runner.invoke(main, ["--config", str(config), "build", "--week", "2026-47"])
    assert bad_week.exit_code == 2 and "is not an ISO week like 2026-W47" in bad_week.output
    unknown = runner.invoke(main, ["--config", str(config), "build", "atlantis"])
    assert unknown.exit_code == 2 and "no council called atlantis" in unknown.output
    waitlisted = runner.invoke(main, ["--config", str(config), "build", "wigan"])
    assert waitlisted.exit_code == 0
    assert "wigan is not enabled" in waitlisted.output
    assert ": 0 councils, 0 digests built" in waitlisted.output
