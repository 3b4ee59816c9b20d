"""Enabling and pausing councils."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from digest import councils, enablement
from digest.models import CouncilStatus
from digest.runtime import Runtime


def test_enable_pause_and_re_enable(session: Session, rt: Runtime) -> None:
    wigan = councils.get_by_slug(session, "wigan")
    assert wigan is not None
    first = enablement.enable(session, wigan, rt.now())
    assert first.changed and wigan.status == CouncilStatus.ENABLED and wigan.enabled_at == rt.now()
    assert not enablement.enable(session, wigan, rt.now()).changed
    assert enablement.pause(session, wigan, rt.now())
    assert wigan.status == CouncilStatus.PAUSED
    assert not enablement.pause(session, wigan, rt.now())
    assert enablement.enable(
        session, wigan, rt.now(), base_url="https://democracy.wigan.gov.uk/"
    ).changed
    assert wigan.base_url == "https://democracy.wigan.gov.uk"


def test_a_council_without_a_source_cannot_be_enabled(session: Session, rt: Runtime) -> None:
    unknown = next(c for c in councils.search(session) if not c.base_url)
    with pytest.raises(enablement.EnablementError, match="no democracy website"):
        enablement.enable(session, unknown, rt.now())
    assert unknown.status == CouncilStatus.WAITLIST
