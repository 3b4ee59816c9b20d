"""Fake council servers for the collection benchmarks, in a process of their own (as real
council servers would be: their CPU time is not charged to the collector), with every
council host on its own loopback address (127.0.0.2, .3, ...): the fetcher queues requests
per server address, and real council hosts are separate servers.

One server listens on every address and picks the site by the Host header; only loopback
addresses are ever connected to (the resolver below)."""

from __future__ import annotations

import collections
import ipaddress
import itertools
import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

from tests.support.moderngov import FakeModernGov, FakeSite, Logged


class FakeCouncils:
    def __init__(self, sites: dict[str, FakeSite], latency: float = 0.0) -> None:
        self.addresses = {
            host: f"127.0.{n // 250}.{n % 250 + 2}" for n, host in enumerate(sorted(sites))
        }
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, sites, latency), daemon=True)
        self._process.start()
        self.port: int = self._conn.recv()

    def resolver(self, host: str, port: int) -> list[Any]:
        return [ipaddress.ip_address(self.addresses.get(host, "127.0.0.1"))]

    def log(self) -> list[Logged]:
        self._conn.send("log")
        entries: list[Logged] = self._conn.recv()
        return entries

    def clear_log(self) -> None:
        self._conn.send("clear")
        self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(timeout=10)


def _serve(conn: Connection, sites: dict[str, FakeSite], latency: float) -> None:
    fake = FakeModernGov(latency=latency, address="0.0.0.0")  # noqa: S104 (see above)
    fake.sites.update(sites)
    conn.send(fake.port)
    while True:
        command = conn.recv()
        if command == "log":
            conn.send(list(fake.log))
        elif command == "clear":
            fake.clear_log()
            conn.send(None)
        else:
            fake.stop()
            return


def politeness_ok(log: list[Logged], interval: float) -> bool:
    """No host was asked again sooner than `interval` after its last answer."""
    by_host: dict[str, list[Logged]] = collections.defaultdict(list)
    for entry in log:
        by_host[entry.host].append(entry)
    for entries in by_host.values():
        entries.sort(key=lambda e: e.started)
        for before, after in itertools.pairwise(entries):
            if after.started - before.finished < interval:
                return False
    return True
