"""The site as everything outside the web layer sees it: its name, address, domain,
contact and time zone, built once from the config."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from digest import clock
from digest.config import Config
from digest.links import site_domain


@dataclass(frozen=True)
class Site:
    name: str
    base_url: str
    domain: str  # names our lists, Message-IDs, feed and calendar ids (links.site_domain)
    contact_email: str
    tz: ZoneInfo

    @classmethod
    def from_config(cls, config: Config) -> Site:
        return cls(
            name=config.site.name,
            base_url=config.site.base_url,
            domain=site_domain(config.site.base_url, config.mail.from_address),
            contact_email=config.site.contact_email,
            tz=config.tz,
        )

    def mail_context(self) -> dict[str, Any]:
        """What every email template may use about the site."""
        return {
            "site_name": self.name,
            "base_url": self.base_url,
            "contact_email": self.contact_email,
        }

    def today(self, now: datetime) -> date:
        return clock.local_today(now, self.tz)

    def week_start(self, now: datetime) -> datetime:
        return clock.week_start(now, self.tz)
