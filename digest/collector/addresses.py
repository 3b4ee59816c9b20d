"""Which addresses the collector may connect to.

Council base URLs come from a bundled list and from admins, and redirects come from the
council's server, so a URL can point anywhere. Unless `allow_private_hosts` is set, only
globally routable unicast addresses are allowed; this blocks requests to the machine
itself, the local network and cloud metadata services (SSRF).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[IPAddress]]
AddressPolicy = Callable[[IPAddress], bool]

# Ranges `is_global` does not catch on every supported Python, or that tunnel to
# addresses we cannot see (6to4, NAT64).
_ALSO_REFUSED = tuple(
    ipaddress.ip_network(net)
    for net in (
        "100.64.0.0/10",  # carrier-grade NAT
        "192.0.0.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "198.18.0.0/15",  # benchmarking
        "64:ff9b::/96",  # NAT64
        "64:ff9b:1::/48",
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
        "5f00::/16",
        "3fff::/20",
    )
)


class AddressRefused(Exception):
    """A host resolved to an address we must not connect to; the message says which."""


def is_public_address(ip: IPAddress) -> bool:
    """True for a globally routable unicast address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # ::ffff:10.0.0.1 reaches 10.0.0.1; older Pythons call the mapped form global.
        return is_public_address(ip.ipv4_mapped)
    if not ip.is_global or ip.is_multicast or ip.is_unspecified:
        return False
    return not any(ip.version == net.version and ip in net for net in _ALSO_REFUSED)


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for `host` (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, IPAddress] = {}
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
            seen.setdefault(text, ipaddress.ip_address(text))
    return list(seen.values())


def policy(allow_private_hosts: bool) -> AddressPolicy:
    """The configured policy: public addresses only, or anything (tests)."""
    if allow_private_hosts:
        return lambda ip: True
    return is_public_address


def pick_address(host: str, port: int, *, resolver: Resolver, allowed: AddressPolicy) -> IPAddress:
    """The address to connect to for `host`, checked against the policy.

    Every address the name resolves to must pass, not just the one we use: a name that
    mixes public and private answers is someone trying their luck."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    addresses = [literal] if literal is not None else resolver(host, port)
    if not addresses:
        raise OSError(f"{host} has no addresses")
    for ip in addresses:
        if not allowed(ip):
            where = host if literal is not None else f"{host} ({ip})"
            raise AddressRefused(
                f"{where} is a private, loopback or otherwise non-public address; "
                "refused (set [collector] allow_private_hosts only for testing)"
            )
    return addresses[0]
