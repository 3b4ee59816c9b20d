"""The site's calendar: "today" and "this week" are London's, whatever UTC says."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from digest import clock
from digest.config import Config
from digest.site import Site
from digest.weekly.weeks import IsoWeek

LONDON = ZoneInfo("Europe/London")


def test_today_at_half_past_eleven_utc_in_summer_is_tomorrow_in_london() -> None:
    now = datetime(2026, 7, 14, 23, 30, tzinfo=UTC)  # 00:30 BST on the 15th
    assert clock.local_today(now, LONDON) == date(2026, 7, 15)
    assert clock.start_of_today(now, LONDON) == datetime(2026, 7, 14, 23, 0, tzinfo=UTC)
    # In winter London is on UTC: the same time of day is still the 14th.
    winter = datetime(2026, 12, 14, 23, 30, tzinfo=UTC)
    assert clock.local_today(winter, LONDON) == date(2026, 12, 14)
    assert clock.start_of_today(winter, LONDON) == datetime(2026, 12, 14, 0, 0, tzinfo=UTC)


def test_week_start_around_the_end_of_british_summer_time() -> None:
    # BST ended at 01:00 UTC on Sunday 25 October 2026; the week began on Monday the
    # 19th at 00:00 BST, which is 23:00 UTC on Sunday the 18th.
    sunday_night = datetime(2026, 10, 25, 23, 30, tzinfo=UTC)  # 23:30 GMT, still that week
    assert clock.week_start(sunday_night, LONDON) == datetime(2026, 10, 18, 23, 0, tzinfo=UTC)
    # 23:30 UTC on Sunday the 18th is already Monday in London: the same week.
    assert clock.week_start(datetime(2026, 10, 18, 23, 30, tzinfo=UTC), LONDON) == datetime(
        2026, 10, 18, 23, 0, tzinfo=UTC
    )
    # The next week starts at midnight GMT, which is midnight UTC.
    monday = datetime(2026, 10, 26, 0, 0, tzinfo=UTC)
    assert clock.week_start(monday, LONDON) == monday
    assert clock.week_start(datetime(2026, 10, 25, 23, 59, tzinfo=UTC), LONDON) < monday


def test_week_start_around_the_start_of_british_summer_time() -> None:
    # BST began at 01:00 UTC on Sunday 29 March 2026; the next week starts at 00:00 BST
    # on Monday the 30th, which is 23:00 UTC on the 29th.
    assert clock.week_start(datetime(2026, 3, 29, 22, 59, tzinfo=UTC), LONDON) == datetime(
        2026, 3, 23, 0, 0, tzinfo=UTC
    )
    assert clock.week_start(datetime(2026, 3, 29, 23, 0, tzinfo=UTC), LONDON) == datetime(
        2026, 3, 29, 23, 0, tzinfo=UTC
    )


def test_iso_weeks_agree_with_the_week_start() -> None:
    for now in (
        datetime(2026, 10, 18, 23, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 23, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 23, 0, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
    ):
        assert IsoWeek.of(now, LONDON).starts_at(LONDON) == clock.week_start(now, LONDON)


def test_the_site_comes_from_the_config() -> None:
    config = Config().replace(
        site={"name": "Digest", "base_url": "https://digest.example.org"},
        mail={"from_address": "news@mail.example.org"},
    )
    site = Site.from_config(config)
    assert (site.name, site.base_url, site.domain, site.tz) == (
        "Digest",
        "https://digest.example.org",
        "digest.example.org",
        LONDON,
    )
    assert site.mail_context() == {
        "site_name": "Digest",
        "base_url": "https://digest.example.org",
        "contact_email": config.site.contact_email,
    }
    # On an IP address or localhost the sending domain names our lists.
    local = Site.from_config(config.replace(site={"base_url": "http://127.0.0.1:5000"}))
    assert local.domain == "mail.example.org"
    now = datetime(2026, 7, 14, 23, 30, tzinfo=UTC)
    assert site.today(now) == date(2026, 7, 15)
    assert site.week_start(now) == datetime(2026, 7, 12, 23, 0, tzinfo=UTC)
