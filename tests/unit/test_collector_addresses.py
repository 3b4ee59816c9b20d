"""The SSRF guard's address policy, on data (no traffic ever leaves loopback in tests)."""

from __future__ import annotations

import ipaddress

import pytest

from digest.collector.addresses import AddressRefused, is_public_address, pick_address, policy


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "127.8.8.8",
        "::1",
        "10.0.0.1",  # private
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # link-local: cloud metadata
        "fe80::1",
        "100.64.0.1",  # carrier-grade NAT
        "100.127.255.254",
        "224.0.0.1",  # multicast
        "ff02::1",
        "0.0.0.0",  # noqa: S104 - unspecified
        "::",
        "::ffff:10.0.0.1",  # IPv4-mapped private
        "::ffff:127.0.0.1",
        "fc00::1",  # unique local
        "2002:0a00:0001::1",  # 6to4 of 10.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "198.18.0.1",  # benchmarking
        "192.0.0.8",
        "240.0.0.1",  # reserved
        "255.255.255.255",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "151.101.0.81", "2a00:1450:4009:81f::200e", "::ffff:93.184.216.34"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def test_pick_address_checks_every_answer_and_literal_hosts() -> None:
    def resolver(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("192.168.0.7")]

    strict = policy(allow_private_hosts=False)
    with pytest.raises(AddressRefused, match=r"mixed\.test \(192\.168\.0\.7\)"):
        pick_address("mixed.test", 80, resolver=resolver, allowed=strict)
    with pytest.raises(AddressRefused, match=r"^\[::1\] is a private"):
        pick_address("[::1]", 80, resolver=resolver, allowed=strict)
    assert str(pick_address("127.0.0.1", 80, resolver=resolver, allowed=policy(True))) == (
        "127.0.0.1"
    )
