"""A throwaway Debian Postfix on loopback that bounces mail for real.

Postfix accepts every recipient over SMTP, then fails them as a real MX does: an unknown
local user (local(8)), a full mailbox (virtual(8) over `virtual_mailbox_limit`) and a
domain that does not exist (smtp(8) asking a DNS server on 127.0.0.1:53 that answers
NXDOMAIN to everything). Its bounce(8) writes the DSNs and delivers them to the VERP
return path's domain, routed to a loopback SMTP sink.

Everything lives in a temporary directory (config, queue, mailboxes, log); nothing goes
beyond 127.0.0.1: the chrooted daemons read the queue directory's own etc/resolv.conf
(127.0.0.1) and etc/hosts. Needs root (Postfix's master starts as root) and Debian's
`postfix` package; tests skip without them unless DIGEST_REQUIRE_MAILTOOLS=1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.mailtools import skip_or_fail
from tests.support.smtp import free_port

LOCAL_DOMAIN = "mx1.example.net"
FULL_DOMAIN = "full.example.net"
NOBODY = 65534

_MASTER_CF = """\
127.0.0.1:{port} inet n - y - - smtpd
pickup unix n - y 60 1 pickup
cleanup unix n - y - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - y - - trivial-rewrite
bounce unix - - y - 0 bounce
defer unix - - y - 0 bounce
trace unix - - y - 0 bounce
verify unix - - y - 1 verify
flush unix n - y 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - y - - smtp
relay unix - - y - - smtp
showq unix n - y - - showq
error unix - - y - - error
retry unix - - y - - error
discard unix - - y - - discard
local unix - n n - - local
virtual unix - n n - - virtual
anvil unix - - y - 1 anvil
scache unix - - y - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""

_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
myhostname = mx1.example.net
mydomain = example.net
myorigin = $myhostname
mydestination = {local_domain}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Accept every recipient at RCPT, so that the failures come back as DSNs.
local_recipient_maps =
smtpd_reject_unlisted_recipient = no
alias_maps =
alias_database =
virtual_mailbox_domains = {full_domain}
virtual_mailbox_maps = texthash:{root}/etc/vmailbox
virtual_mailbox_base = {root}/vmail
virtual_uid_maps = static:{nobody}
virtual_gid_maps = static:{nobody}
message_size_limit = 200000
virtual_mailbox_limit = 300000
mailbox_size_limit = 300000
transport_maps = texthash:{root}/etc/transport
smtp_host_lookup = dns
smtp_tls_security_level = none
smtpd_tls_security_level = none
biff = no
delay_warning_time = 0
"""


@dataclass
class Postfix:
    root: Path
    port: int
    # Names Postfix asked our DNS server about: proof that no lookup left loopback.
    dns_queries: list[bytes] = field(default_factory=list)

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""


def _nxdomain_server(
    stop: threading.Event, queries: list[bytes]
) -> tuple[socket.socket, threading.Thread]:
    """A DNS server on 127.0.0.1:53 that says every name does not exist (RFC 1035
    header with RCODE 3, the question echoed)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 53))
    sock.settimeout(0.2)

    def serve() -> None:
        while not stop.is_set():
            try:
                query, peer = sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(query) < 12:
                continue
            queries.append(query[12:])
            flags = 0x8000 | (query[2] & 0x01) << 8 | 0x0080 | 3  # QR, RD copied, RA, NXDOMAIN
            header = query[:2] + flags.to_bytes(2, "big") + query[4:6] + b"\0\0\0\0\0\0"
            sock.sendto(header + query[12:], peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return sock, thread


@contextmanager
def running_postfix(bounce_domain: str, sink_port: int) -> Iterator[Postfix]:
    """Start a Postfix instance whose bounces for `bounce_domain` go to the SMTP sink on
    `sink_port`; stopped and removed afterwards."""
    postfix = shutil.which("postfix") or "/usr/sbin/postfix"
    if not Path(postfix).exists():
        skip_or_fail("Postfix is not installed (apt-get install postfix)")
    if os.geteuid() != 0:
        skip_or_fail("a throwaway Postfix needs root")
    root = Path(tempfile.mkdtemp(prefix="digest-postfix-"))
    stop = threading.Event()
    dns: socket.socket | None = None
    queries: list[bytes] = []
    started = False
    try:
        try:
            dns, _ = _nxdomain_server(stop, queries)
        except OSError as exc:
            skip_or_fail(f"cannot serve DNS on 127.0.0.1:53 for Postfix: {exc}")
        port = free_port()
        for sub in ("etc", "queue/etc", "vmail"):
            (root / sub).mkdir(parents=True)
        for path in (root, root / "queue"):
            path.chmod(0o755)
        values = {
            "root": root,
            "local_domain": LOCAL_DOMAIN,
            "full_domain": FULL_DOMAIN,
            "nobody": NOBODY,
        }
        (root / "etc" / "main.cf").write_text(_MAIN_CF.format(**values))
        (root / "etc" / "master.cf").write_text(_MASTER_CF.format(port=port))
        (root / "etc" / "vmailbox").write_text(f"full@{FULL_DOMAIN} fullbox\n")
        (root / "etc" / "transport").write_text(f"{bounce_domain} smtp:[127.0.0.1]:{sink_port}\n")
        chroot_etc = root / "queue" / "etc"
        (chroot_etc / "hosts").write_text("127.0.0.1 localhost\n")
        (chroot_etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        (chroot_etc / "nsswitch.conf").write_text("hosts: files dns\nservices: files\n")
        shutil.copy("/etc/services", chroot_etc / "services")
        # A mailbox already over its limit: every delivery fails "mailbox full".
        fullbox = root / "vmail" / "fullbox"
        fullbox.write_bytes(b"x" * 400_000)
        for path in (root / "vmail", fullbox):
            os.chown(path, NOBODY, NOBODY)
        result = subprocess.run(
            [postfix, "-c", str(root / "etc"), "start"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        started = result.returncode == 0
        instance = Postfix(root, port, queries)
        if not started:
            raise RuntimeError(f"postfix did not start: {result.stderr}\n{instance.log()}")
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield instance
    finally:
        if started:
            subprocess.run(
                [postfix, "-c", str(root / "etc"), "stop"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        stop.set()
        if dns is not None:
            dns.close()
        shutil.rmtree(root, ignore_errors=True)
