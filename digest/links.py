"""Absolute links for emails, built from [site] base_url (jobs have no request context).

The paths match the routes in digest/web; a test checks each one resolves.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

from digest.tokens import Purpose, Tokens


@dataclass(frozen=True)
class Links:
    base_url: str
    tokens: Tokens

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def council(self, slug: str) -> str:
        return self.url(f"/councils/{slug}")

    def confirm(self, subscription_id: int, nonce: str) -> str:
        return self.url(f"/confirm/{self.tokens.make(Purpose.CONFIRM, [subscription_id, nonce])}")

    # Unsubscribe and manage links never expire, so they carry the subscriber's
    # link_secret as well as the id: the row's secret dies with it on erasure, and an old
    # link can never name a later subscriber.
    def unsubscribe(self, subscription_id: int, link_secret: str) -> str:
        token = self.tokens.make(Purpose.UNSUBSCRIBE, [subscription_id, link_secret])
        return self.url(f"/unsubscribe/{token}")

    def manage(self, subscriber_id: int, link_secret: str) -> str:
        return self.url(f"/manage/{self.tokens.make(Purpose.MANAGE, [subscriber_id, link_secret])}")

    def confirm_request(self, request_id: int, nonce: str) -> str:
        token = self.tokens.make(Purpose.CONFIRM_REQUEST, [request_id, nonce])
        return self.url(f"/requests/confirm/{token}")

    def meeting(self, slug: str, meeting_id: int) -> str:
        return self.url(f"/councils/{slug}/meetings/{meeting_id}")

    def digests(self, slug: str) -> str:
        return self.url(f"/councils/{slug}/digests")

    def digest(self, slug: str, week: str) -> str:
        return self.url(f"/councils/{slug}/digests/{week}")


def site_domain(base_url: str, from_address: str) -> str:
    """The domain that names our lists and Message-IDs.

    The public host when it is a real name; the sending domain when the site runs on an
    IP address or localhost (the embedded default), which cannot namespace a List-Id.
    """
    host = urlsplit(base_url).hostname or ""
    try:
        ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    if host and not is_ip and host != "localhost":
        return host
    return from_address.rpartition("@")[2].lower()
