"""The real weekly digest, as the builder makes it, over SMTP with DKIM on: it verifies
with dkimpy and Perl's Mail::DKIM, and SpamAssassin scores it well below 1.0."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dkim
import pytest
from sqlalchemy.engine import Engine

from digest.clock import utcnow
from digest.models import ChangeKind, MeetingStatus
from digest.runtime import Runtime
from digest.weekly.weeks import IsoWeek
from jobs import tasks
from tests.conftest import make_config
from tests.integration.helpers import active_subscription
from tests.integration.test_dkim_and_headers import DOMAIN, SELECTOR, DkimKey, dkim_key
from tests.support.clock import Clock
from tests.support.mailtools import perl_dkim_verify, spamassassin
from tests.support.meetings import Item, add_meeting, enable
from tests.support.smtp import SmtpSink

__all__ = ["dkim_key"]  # the fixture, shared with the header tests


@pytest.mark.slow
def test_real_digest_passes_dkim_and_spamassassin(
    tmp_path: Path, engine: Engine, clock: Clock, smtp_sink: SmtpSink, dkim_key: DkimKey
) -> None:
    now = utcnow()
    clock.set(now)
    config = make_config(
        tmp_path,
        engine,
        mail={
            "backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_sink.port,
            "from_address": f"digest@{DOMAIN}",
            "dkim_domain": DOMAIN,
            "dkim_selector": SELECTOR,
            "dkim_private_key_path": str(dkim_key.path),
            "bounce_domain": f"bounces.{DOMAIN}",
        },
    )
    rt = Runtime.from_config(config, engine=engine)
    rt.clock = clock
    week = IsoWeek.of(now, config.tz)
    last = week.previous()
    with rt.sessions.begin() as session:
        council = enable(session, "manchester", now, collected=now - timedelta(hours=1))
        add_meeting(
            session,
            council,
            on=last.monday + timedelta(days=1),
            committee="Executive",
            items=[
                Item(
                    "Clean Air Zone",
                    minutes="The Executive considered the report."
                    "\n\nRESOLVED – That the Clean Air Zone charges be withdrawn.",
                ),
                Item(
                    "Section 106 agreement, Mayfield",
                    minutes="RESOLVED – To approve the S106 agreement and the CIL contribution.",
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
            changes=[(ChangeKind.CANCELLED, now - timedelta(days=2))],
        )
        add_meeting(
            session,
            council,
            on=week.monday + timedelta(days=2),
            committee="Planning and Highways Committee",
            items=[Item("Mayfield Park phase 2", agenda="An application for 1,500 homes.")],
            documents=[("Public reports pack", "https://democracy.manchester.gov.uk/pack.pdf")],
        )
    active_subscription(rt, "reader@example.net", "manchester")
    assert "1 digests built" in tasks.weekly_digest(rt)
    backend = rt.mail_backend()
    rt.deliverer(backend).run_until_empty()
    backend.close()
    [digest] = [m for m in smtp_sink.to("reader@example.net") if m.message["List-Archive"]]
    assert (
        "Clean Air Zone charges be withdrawn"
        in digest.message.get_body(  # type: ignore[union-attr]
            ("plain",)
        ).get_content()
    )
    assert digest.mail_from.startswith("bounces+") and digest.mail_from.endswith(
        f"@bounces.{DOMAIN}"
    )
    assert dkim.verify(digest.data, dnsfunc=dkim_key.dnsfunc)
    ok, detail = perl_dkim_verify(digest.data, dkim_key.txt, tmp_path)
    assert ok, detail
    report = spamassassin(digest.data, tmp_path)
    print(
        f"SpamAssassin score of a real digest: {report.score} ({', '.join(sorted(report.rules))})"
    )
    assert report.score < 1.0, report.text
    assert not {
        r for r in report.rules if r.startswith(("MISSING_", "MPART_ALT_DIFF", "HTML_IMAGE"))
    }
