"""HTTP load for benchmarks: wrk when installed (C, cheap on the CPU we share with the
server), otherwise a keep-alive thread pool. Both report requests per second."""

from __future__ import annotations

import http.client
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

POST_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  local email = string.format("load-%d-%d-%d@example.net", math.random(1, 1000000000), counter, id)
  return wrk.format("POST", "{path}", {{["Cookie"] = "{cookie}",
    ["Content-Type"] = "application/x-www-form-urlencoded"}},
    "csrf_token={token}&email=" .. email)
end
setup = function(thread)
  thread:set("id", math.random(1, 1000000))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    bad_responses: int
    tool: str


def tool() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def get(url: str, seconds: float, connections: int = 16) -> LoadResult:
    if tool() == "wrk":
        return _wrk([url], seconds, connections)
    return _python(url, seconds, connections, None)


def post_form(
    url: str, seconds: float, *, cookie: str, token: str, connections: int = 16
) -> LoadResult:
    if tool() == "wrk":
        script = Path(tempfile.mkstemp(suffix=".lua")[1])
        script.write_text(POST_SCRIPT.format(path=urlsplit(url).path, cookie=cookie, token=token))
        try:
            return _wrk(["-s", str(script), url], seconds, connections)
        finally:
            script.unlink()
    return _python(url, seconds, connections, (cookie, token))


def _wrk(args: list[str], seconds: float, connections: int) -> LoadResult:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:.0f}s", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*?read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(x) for x in errors.groups()) if errors else 0
    return LoadResult(rate, (int(bad.group(1)) if bad else 0) + socket_errors, "wrk")


def _python(url: str, seconds: float, connections: int, form: tuple[str, str] | None) -> LoadResult:
    parts = urlsplit(url)
    deadline = time.monotonic() + seconds
    counts = [0] * connections
    bad = [0] * connections

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        n = 0
        while time.monotonic() < deadline:
            n += 1
            try:
                if form is None:
                    conn.request("GET", parts.path or "/")
                else:
                    body = f"csrf_token={form[1]}&email=load-{index}-{n}@example.net"
                    conn.request(
                        "POST",
                        parts.path,
                        body,
                        {"Cookie": form[0], "Content-Type": "application/x-www-form-urlencoded"},
                    )
                response = conn.getresponse()
                response.read()
                counts[index] += 1
                if response.status >= 400:
                    bad[index] += 1
                if response.will_close:
                    conn.close()
                    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            except OSError:
                bad[index] += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(sum(counts) / (time.monotonic() - started), sum(bad), "python")
