"""The delivery loop's outage log: one line when an outage starts and one when it ends,
even when the database flaps (terminated again moments after coming back)."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from digest.mail.worker import Outages

GONE = sa.exc.OperationalError("SELECT 1", {}, Exception("terminating connection"))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_flapping_outage_is_announced_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    outages = Outages("worker", settle=10.0, monotonic=clock)
    with caplog.at_level(logging.DEBUG, logger="digest"):
        assert outages.failed(GONE) == 0.5
        clock.now = 1.0
        assert outages.failed(GONE) == 1.0  # backing off
        clock.now = 2.0
        outages.succeeded()
        clock.now = 2.1
        assert outages.failed(GONE) == 0.5  # flapping: retry soon, say nothing new
        clock.now = 3.0
        outages.succeeded()
        clock.now = 14.0
        outages.succeeded()  # settled: the outage is over
        clock.now = 30.0
        outages.failed(GONE)  # a new outage, announced
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    recoveries = [r.getMessage() for r in caplog.records if "working again" in r.getMessage()]
    assert len(errors) == 2, errors
    assert errors[0].startswith("worker: the database is unavailable")
    assert recoveries == ["worker: working again after 2.0 s"]
