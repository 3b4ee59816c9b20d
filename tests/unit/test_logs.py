"""Structured logs."""

from __future__ import annotations

import json
import logging

from digest.logs import JsonFormatter


def test_json_lines_carry_extra_fields_and_exceptions() -> None:
    record = logging.LogRecord(
        "digest.jobs", logging.WARNING, __file__, 1, "collected %s", ("wigan",), None
    )
    record.council = "wigan"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "collected wigan" and line["level"] == "warning"
    assert line["council"] == "wigan" and line["logger"] == "digest.jobs"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        failing = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert "ValueError: boom" in json.loads(JsonFormatter().format(failing))["exception"]


def test_routine_scheduler_lines_are_debug_only() -> None:
    """APScheduler's two lines per job run (delivery every 10 s) buried the request log."""
    import logging

    from digest import logs

    logs.configure("text", "INFO")
    executors = logging.getLogger("apscheduler.executors.default")
    assert not executors.isEnabledFor(logging.INFO)
    assert executors.isEnabledFor(logging.WARNING)
    logs.configure("text", "DEBUG")
    assert executors.isEnabledFor(logging.DEBUG)
    logs.configure("text", "INFO")
