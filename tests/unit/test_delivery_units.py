"""VERP tokens, domain groups, token buckets, failure classification and DSN/ARF parsing
on the real-format fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.bounces.classify import classify, find_status
from digest.bounces.parse import parse
from digest.mail import verp
from digest.mail.dkim import header_list
from digest.mail.replies import pauses_domain
from digest.mail.throttle import Throttle, TokenBucket, domain_group
from digest.models import BounceKind

SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "bounces"


@pytest.mark.parametrize("message_id", [1, 255, 123456789, 2**63 - 1])
def test_verp_round_trip_case_folding_and_length(message_id: int) -> None:
    address = verp.address(SECRET, message_id, "Bounces.Example.org")
    local, _, domain = address.partition("@")
    assert domain == "bounces.example.org" and len(local) <= 64
    assert local == local.lower()
    assert verp.find_token(address, SECRET) == message_id
    assert verp.find_token(address.upper(), SECRET) == message_id
    assert verp.find_token(f"Delivered-To: <{address}>", SECRET) == message_id


def test_verp_rejects_tampering_and_other_keys() -> None:
    address = verp.address(SECRET, 42, "b.example.org")
    tampered = address.replace("bounces+2a-", "bounces+2b-")
    assert verp.find_token(tampered, SECRET) is None and verp.looks_like_verp(tampered)
    assert verp.find_token(address, "another-secret-key-of-sufficient-length") is None
    assert verp.find_token("digest@example.org", SECRET) is None


@pytest.mark.parametrize(
    ("address", "group"),
    [
        ("a@gmail.com", "gmail"),
        ("a@GoogleMail.com", "gmail"),
        ("a@yahoo.co.uk", "yahoo"),
        ("a@aol.com", "yahoo"),
        ("a@hotmail.co.uk", "microsoft"),
        ("a@live.com", "microsoft"),
        ("a@msn.com", "microsoft"),
        ("a@outlook.com", "microsoft"),
        ("a@btinternet.com", "bt"),
        ("a@Example.ORG", "example.org"),
    ],
)
def test_domain_groups(address: str, group: str) -> None:
    assert domain_group(address) == group


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=2.0)
    assert bucket.wait(0.0) == 0.0
    bucket.take(0.0)
    bucket.take(0.0)
    assert bucket.wait(0.0) == pytest.approx(0.5)
    assert bucket.wait(0.5) == 0.0
    assert TokenBucket(rate=0.0).wait(0.0) == 0.0  # 0 means no limit


def test_throttle_share_divides_every_rate() -> None:
    now = [0.0]
    throttle = Throttle(rate=10.0, group_rates={"gmail": 4.0}, monotonic=lambda: now[0])
    throttle.set_share(4)
    assert throttle.reserve("gmail", max_wait=5) == 0.0  # burst of one at 1/s
    assert throttle.reserve("gmail", max_wait=5) == pytest.approx(1.0)
    # Global: 2.5/s, a burst of 2.5 of which the two gmail messages took 2.
    assert throttle.reserve("example.org", max_wait=5) == pytest.approx(0.2)
    assert throttle.reserve("gmail", max_wait=0.5) > 0.5  # too long: not reserved


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        ("5.1.1", 550, BounceKind.HARD),
        ("5.1.10", 550, BounceKind.HARD),
        ("5.2.1", 550, BounceKind.HARD),
        ("5.2.2", 552, BounceKind.SOFT),
        ("5.7.1", 554, BounceKind.ABOUT_US),
        ("5.7.26", 550, BounceKind.ABOUT_US),
        ("4.2.2", 452, BounceKind.SOFT),
        ("5.3.0", 554, BounceKind.HARD),
        ("", 550, BounceKind.HARD),
        ("", 554, BounceKind.HARD),
        ("", 452, BounceKind.SOFT),
    ],
)
def test_classification(status: str, code: int, kind: BounceKind) -> None:
    assert classify(status=status, smtp_code=code).kind == kind


def test_pauses_and_status_extraction() -> None:
    assert pauses_domain(421, "4.7.0") and pauses_domain(450, "4.7.28")
    assert not pauses_domain(451, "4.3.0") and not pauses_domain(550, "5.7.1")
    assert find_status("550 5.1.1 <x@y>: user unknown") == "5.1.1"
    assert find_status("Sorry, no mailbox here by that name. (#5.1.1)") == "5.1.1"
    assert find_status("no code") == ""


@pytest.mark.parametrize(
    ("name", "kind", "verp_id", "failure"),
    [
        ("postfix_hard_5.1.1.eml", "dsn", 1, ("nosuchuser@example.net", "failed", "5.1.1")),
        ("postfix_delayed_4.2.2.eml", "dsn", 2, ("fullbox@example.net", "delayed", "4.2.2")),
        ("postfix_policy_5.7.1.eml", "dsn", 3, ("strict@example.net", "failed", "5.7.1")),
        ("postfix_full_5.2.2.eml", "dsn", 4, ("fullbox@example.net", "failed", "5.2.2")),
        ("postfix_hard_no_verp.eml", "dsn", None, ("gone@example.net", "failed", "5.1.1")),
        ("qmail_no_dsn.eml", "dsn", None, ("olduser@oldhost.example", "failed", "5.1.1")),
        ("arf_abuse.eml", "complaint", 5, None),
        ("autoreply.eml", "autoreply", None, None),
    ],
)
def test_parse_fixtures(
    name: str, kind: str, verp_id: int | None, failure: tuple[str, str, str] | None
) -> None:
    report = parse((FIXTURES / name).read_bytes(), SECRET)
    assert (report.kind, report.verp_id, report.forged) == (kind, verp_id, False)
    if failure:
        (got,) = report.failures
        assert (got.recipient, got.action, got.status) == failure
    if kind == "complaint":
        assert report.feedback_type == "abuse"
        assert report.complaint_recipient == "complainer@example-isp.net"
        assert report.original_message_id == "<weekly-digest.4e5f6071@councildigest.example.org>"


def test_forged_token_is_flagged() -> None:
    report = parse((FIXTURES / "forged_token.eml").read_bytes(), SECRET)
    assert report.forged and report.verp_id is None


def test_dkim_header_list_oversigns_and_signs_absence() -> None:
    raw = (
        b"From: a@example.org\r\nTo: b@example.net\r\nSubject: s\r\n"
        b"List-Unsubscribe: <https://example.org/u/x>\r\nReceived: x\r\n\r\nbody\r\n"
    )
    names = header_list(raw)
    assert names.count(b"from") == 2 and names.count(b"list-unsubscribe") == 2
    assert names.count(b"list-unsubscribe-post") == 1  # absent, listed once: signs absence
    assert b"received" not in names and b"cc" not in names
