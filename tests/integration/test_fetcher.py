"""The HTTP fetcher against real loopback servers: redirects, TLS, the address guard,
politeness and conditional GET. No database."""

from __future__ import annotations

import ipaddress
import itertools
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from digest.collector.addresses import IPAddress, is_public_address, system_resolver
from digest.collector.http_client import Fetcher, FetchError, Validator
from digest.collector.politeness import HostGate
from digest.config import CollectorConfig
from tests.support.moderngov import FakeModernGov, FakeSite, Reply, loopback_resolver

LOOPBACK = ipaddress.ip_address("127.0.0.1")
CONFIG = CollectorConfig(allow_private_hosts=True, per_host_interval=0.0, timeout=5.0)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_fake(ca: trustme.CA) -> Iterator[FakeModernGov]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("democracy.wigan.test").configure_cert(context)
    fake = FakeModernGov(tls=context)
    yield fake
    fake.stop()


@pytest.fixture
def ca_bundle(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _ok_site(fake: FakeModernGov, host: str) -> FakeSite:
    return fake.add_site(host, FakeSite(override=lambda request: Reply(b"<getmeetings/>")))


def test_http_to_https_redirect_is_followed_with_the_certificate_checked_for_the_name(
    fake_moderngov: FakeModernGov, tls_fake: FakeModernGov, ca_bundle: str
) -> None:
    target = tls_fake.url("democracy.wigan.test")
    fake_moderngov.add_site(
        "democracy.wigan.test",
        FakeSite(
            override=lambda request: Reply(
                b"", 301, headers=(("Location", target + request.full_path),)
            )
        ),
    )
    _ok_site(tls_fake, "democracy.wigan.test")
    fetcher = Fetcher(CONFIG, resolver=loopback_resolver, ca_bundle=ca_bundle)

    answer = fetcher.get(fake_moderngov.url("democracy.wigan.test") + "/mgWebService.asmx/X?a=1")

    assert answer.status == 200 and answer.body == b"<getmeetings/>"
    assert answer.final_url == target + "/mgWebService.asmx/X?a=1"
    (served,) = tls_fake.requests_to("democracy.wigan.test")
    assert served.headers["Host"] == f"democracy.wigan.test:{tls_fake.port}"


def test_tls_to_a_name_the_certificate_does_not_cover_fails_clearly(
    tls_fake: FakeModernGov, ca_bundle: str
) -> None:
    _ok_site(tls_fake, "democracy.bolton.test")
    fetcher = Fetcher(CONFIG, resolver=loopback_resolver, ca_bundle=ca_bundle)
    with pytest.raises(FetchError, match=r"democracy\.bolton\.test: TLS \(https\) certificate"):
        fetcher.get(tls_fake.url("democracy.bolton.test") + "/x")


def _public_except_loopback(ip: IPAddress) -> bool:
    """127.0.0.1 plays a council's public server; every other address gets the real check.
    Refused addresses are refused before any connection, so nothing leaves loopback."""
    return ip == LOOPBACK or is_public_address(ip)


@pytest.mark.parametrize(
    "location",
    [
        "http://10.1.2.3/mgWebService.asmx",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/",
        "http://[::ffff:192.168.0.1]/",
        "http://internal.council.test/admin",  # resolves to a private address
        "http://127.0.0.2/",
    ],
)
def test_a_redirect_to_a_private_address_is_refused(
    location: str, fake_moderngov: FakeModernGov
) -> None:
    fake_moderngov.add_site(
        "democracy.wigan.test",
        FakeSite(override=lambda request: Reply(b"", 302, headers=(("Location", location),))),
    )

    def resolver(host: str, port: int) -> list[IPAddress]:
        if host == "internal.council.test":
            return [ipaddress.ip_address("10.20.30.40")]
        return [LOOPBACK]

    fetcher = Fetcher(
        CollectorConfig(allow_private_hosts=False, per_host_interval=0.0, timeout=5.0),
        resolver=resolver,
        address_allowed=_public_except_loopback,
    )
    with pytest.raises(FetchError, match="non-public address; refused"):
        fetcher.get(fake_moderngov.url("democracy.wigan.test") + "/mgWebService.asmx/GetMeetings")
    assert len(fake_moderngov.log) == 1  # the redirect itself; the target was never asked


def test_private_hosts_are_refused_unless_allowed(fake_moderngov: FakeModernGov) -> None:
    _ok_site(fake_moderngov, "127.0.0.1")
    strict = Fetcher(CollectorConfig(allow_private_hosts=False, per_host_interval=0.0))
    with pytest.raises(FetchError, match=r"127\.0\.0\.1 is a private, loopback"):
        strict.get(fake_moderngov.url() + "/x")
    assert fake_moderngov.log == []
    assert Fetcher(CONFIG).get(fake_moderngov.url() + "/x").status == 200


def test_a_name_resolving_to_mixed_addresses_is_refused() -> None:
    def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.1")]

    fetcher = Fetcher(CollectorConfig(allow_private_hosts=False), resolver=resolver)
    with pytest.raises(FetchError, match=r"rebind\.test \(10\.0\.0\.1\) is a private"):
        fetcher.get("http://rebind.test/x")


def test_the_checked_address_is_the_one_connected_to(fake_moderngov: FakeModernGov) -> None:
    """The adapter resolves once per request and connects to the address it checked: the
    name `rebind.test` exists nowhere but in our resolver, so the first request can only
    succeed by connecting to the checked address. A second answer pointing somewhere
    private (DNS rebinding) is refused."""
    answers = iter([[LOOPBACK], [ipaddress.ip_address("10.9.9.9")]])
    lookups: list[str] = []

    def flaky(host: str, port: int) -> list[IPAddress]:
        lookups.append(host)
        return next(answers)

    _ok_site(fake_moderngov, "rebind.test")
    fetcher = Fetcher(
        CollectorConfig(allow_private_hosts=False, per_host_interval=0.0),
        resolver=flaky,
        address_allowed=_public_except_loopback,
    )
    assert fetcher.get(fake_moderngov.url("rebind.test") + "/x").status == 200
    assert lookups == ["rebind.test"]
    with pytest.raises(FetchError, match=r"10\.9\.9\.9"):
        fetcher.get(fake_moderngov.url("rebind.test") + "/x")


def test_too_many_redirects(fake_moderngov: FakeModernGov) -> None:
    fake_moderngov.add_site(
        "loop.test",
        FakeSite(override=lambda request: Reply(b"", 302, headers=(("Location", "/again"),))),
    )
    with pytest.raises(FetchError, match="more than 5 redirects"):
        Fetcher(CONFIG, resolver=loopback_resolver).get(fake_moderngov.url("loop.test") + "/")


def test_conditional_get_sends_the_stored_validators(fake_moderngov: FakeModernGov) -> None:
    def reply(request: object) -> Reply:
        headers = request.headers
        if headers.get("If-None-Match") == '"v1"':
            return Reply(b"", 304)
        return Reply(
            b"<x/>", headers=(("ETag", '"v1"'), ("Last-Modified", "Tue, 17 Nov 2026 10:00:00 GMT"))
        )

    fake_moderngov.add_site("etag.test", FakeSite(override=reply))
    fetcher = Fetcher(CONFIG, resolver=loopback_resolver)
    first = fetcher.get(fake_moderngov.url("etag.test") + "/x")
    assert first.validator == Validator('"v1"', "Tue, 17 Nov 2026 10:00:00 GMT")
    second = fetcher.get(fake_moderngov.url("etag.test") + "/x", validator=first.validator)
    assert second.not_modified
    sent = fake_moderngov.log[-1].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Tue, 17 Nov 2026 10:00:00 GMT"


def test_one_request_at_a_time_per_host_with_the_interval_between(
    fake_moderngov: FakeModernGov,
) -> None:
    # Two servers: b.test is another address (::1, also loopback).
    other = FakeModernGov(address="::1")
    fakes = {"a.test": fake_moderngov, "b.test": other}
    try:
        for host, fake in fakes.items():
            fake.latency = 0.02
            _ok_site(fake, host)

        def resolver(host: str, port: int) -> list[IPAddress]:
            return [ipaddress.ip_address("::1" if host == "b.test" else "127.0.0.1")]

        fetcher = Fetcher(
            CollectorConfig(allow_private_hosts=True, per_host_interval=0.05), resolver=resolver
        )

        def hammer(host: str) -> None:
            for _ in range(4):
                fetcher.get(f"http://{host}:{fakes[host].port}/x")

        hosts = ("a.test", "a.test", "b.test")
        threads = [threading.Thread(target=hammer, args=(h,)) for h in hosts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.stop()

    for host, expected in (("a.test", 8), ("b.test", 4)):
        served = sorted(fakes[host].requests_to(host), key=lambda r: r.started)
        assert len(served) == expected
        for before, after in itertools.pairwise(served):
            assert after.started - before.finished >= 0.05, "too soon, or overlapping"
    a, b = fake_moderngov.requests_to("a.test"), other.requests_to("b.test")
    assert any(x.started < y.finished and y.started < x.finished for x in a for y in b), (
        "different hosts should be served in parallel"
    )


def test_host_gate_waits_out_the_interval() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    gate = HostGate(1.5, clock=lambda: now[0], sleep=sleep)
    with gate.slot("Example.test"):
        now[0] += 0.2
    with gate.slot("example.test"):
        pass
    with gate.slot("other.test"):
        pass
    assert slept == [1.5]


def test_every_request_identifies_us(fake_moderngov: FakeModernGov) -> None:
    _ok_site(fake_moderngov, "ua.test")
    Fetcher(CONFIG, resolver=loopback_resolver).get(fake_moderngov.url("ua.test") + "/x")
    agent = fake_moderngov.log[0].headers["User-Agent"]
    assert agent == CONFIG.user_agent and "+https://" in agent


def test_a_name_that_does_not_resolve_says_so() -> None:
    def nowhere(host: str, port: int) -> list[IPAddress]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(FetchError, match=r"^democracy\.gone\.test does not resolve"):
        Fetcher(CONFIG, resolver=nowhere).get("http://democracy.gone.test/x")


def test_the_system_resolver_gives_every_address() -> None:
    addresses = system_resolver("localhost", 80)
    assert addresses and all(ip.is_loopback for ip in addresses)
    assert len({str(ip) for ip in addresses}) == len(addresses)


def test_probing_without_a_base_url_says_so() -> None:
    from datetime import date

    from digest.collector.probe import probe_site

    result = probe_site(Fetcher(CONFIG), "", date(2026, 11, 18))
    assert not result.ok and result.message == "no democracy website address (base URL) is set"


def test_a_council_trickling_its_answer_costs_at_most_twice_the_timeout(
    fake_moderngov: FakeModernGov,
) -> None:
    """One byte every 50 ms never trips a per-read timeout; the total deadline stops it."""
    fake_moderngov.add_site(
        "trickle.test", FakeSite(override=lambda request: Reply(b"<a/>" * 500, trickle=0.05))
    )
    fetcher = Fetcher(
        CollectorConfig(allow_private_hosts=True, per_host_interval=0.0, timeout=0.5),
        resolver=loopback_resolver,
    )
    started = time.monotonic()
    with pytest.raises(FetchError, match="took longer than 1 seconds"):
        fetcher.get(fake_moderngov.url("trickle.test") + "/x")
    elapsed = time.monotonic() - started
    print(f"trickling council cut off after {elapsed:.2f} s (limit 2 x 0.5 s)")
    assert elapsed < 1.5


def test_a_read_timeout_in_the_body_says_the_site_did_not_answer_in_time(
    fake_moderngov: FakeModernGov,
) -> None:
    fake_moderngov.add_site(
        "stall.test", FakeSite(override=lambda request: Reply(b"<a/><b/>", trickle=1.0))
    )
    fetcher = Fetcher(
        CollectorConfig(allow_private_hosts=True, per_host_interval=0.0, timeout=0.3),
        resolver=loopback_resolver,
    )
    with pytest.raises(FetchError, match=r"stall\.test did not answer within 0\.3 seconds"):
        fetcher.get(fake_moderngov.url("stall.test") + "/x")


def test_retry_after_on_503_is_honoured_once_within_the_timeout(
    fake_moderngov: FakeModernGov,
) -> None:
    answers = iter([Reply(b"busy", 503, "text/plain", headers=(("Retry-After", "1"),))])
    fake_moderngov.add_site(
        "busy.test", FakeSite(override=lambda request: next(answers, Reply(b"<getmeetings/>")))
    )
    started = time.monotonic()
    fetched = Fetcher(CONFIG, resolver=loopback_resolver).get(fake_moderngov.url("busy.test"))
    assert fetched.body == b"<getmeetings/>"
    first, second = fake_moderngov.requests_to("busy.test")
    assert second.started - first.finished >= 0.95
    assert time.monotonic() - started < 3


def test_a_retry_after_beyond_the_timeout_fails_at_once_saying_so(
    fake_moderngov: FakeModernGov,
) -> None:
    fake_moderngov.add_site(
        "later.test",
        FakeSite(
            override=lambda request: Reply(
                b"busy", 503, "text/plain", headers=(("Retry-After", "3600"),)
            )
        ),
    )
    with pytest.raises(FetchError, match="come back in 3600 seconds"):
        Fetcher(CONFIG, resolver=loopback_resolver).get(fake_moderngov.url("later.test"))
    assert len(fake_moderngov.requests_to("later.test")) == 1


def test_two_names_for_one_address_share_one_politeness_gate(
    fake_moderngov: FakeModernGov,
) -> None:
    for host in ("localhost", "127.0.0.1"):
        fake_moderngov.add_site(host, FakeSite(override=lambda request: Reply(b"<a/>")))
    fetcher = Fetcher(
        CollectorConfig(allow_private_hosts=True, per_host_interval=0.5, timeout=5.0),
        resolver=loopback_resolver,
    )
    fetcher.get(fake_moderngov.url("localhost") + "/one")
    fetcher.get(fake_moderngov.url("127.0.0.1") + "/two")
    (first,) = fake_moderngov.requests_to("localhost")
    (second,) = fake_moderngov.requests_to("127.0.0.1")
    assert second.started - first.finished >= 0.45


def test_one_watchdog_cuts_each_request_at_its_own_deadline() -> None:
    """A short deadline registered after a long one still fires on time; a finished
    request's deadline never fires."""
    from digest.collector.connections import _Deadline, _Watchdog

    watchdog = _Watchdog()
    long, short, finished = _Deadline(), _Deadline(), _Deadline()
    watchdog.add(long, 60.0)
    watchdog.remove(watchdog.add(finished, 0.1))
    started = time.monotonic()
    watchdog.add(short, 0.2)
    while not short.expired and time.monotonic() - started < 2:
        time.sleep(0.01)
    assert short.expired and 0.15 < time.monotonic() - started < 1.0
    time.sleep(0.1)
    assert not long.expired and not finished.expired
