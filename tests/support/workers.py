"""Real `digest worker` processes, for tests that kill and restart them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def write_config(path: Path, engine: Engine, *, smtp_port: int, **mail: Any) -> Path:
    """A config file for worker processes: SMTP to the loopback sink, no rate limits."""
    values: dict[str, Any] = {
        "backend": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "from_address": "digest@councildigest.example.org",
        "rate_per_second": 0.0,
        **mail,
    }

    def toml(value: Any) -> str:
        if isinstance(value, str):
            return f'"{value}"'
        if isinstance(value, dict):
            return "{ " + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + " }"
        return str(value).lower() if isinstance(value, bool) else str(value)

    lines = [
        "[site]",
        f'secret_key = "{SECRET}"',
        'base_url = "https://councildigest.example.org"',
        f'var_dir = "{path.parent / "var"}"',
        "[database]",
        f'url = "{engine.url.render_as_string(hide_password=False)}"',
        "[mail]",
        *(
            f"domain_rates = {toml(v)}" if k == "domain_rates" else f"{k} = {toml(v)}"
            for k, v in values.items()
        ),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


class Worker:
    """One `digest worker` process; its output goes to a log file."""

    def __init__(self, config: Path, log_dir: Path, name: str, idle: float = 0.1) -> None:
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from digest.cli import main; main()",
                "--config",
                str(config),
                "worker",
                "--idle-seconds",
                str(idle),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")},
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def worker_id(self) -> str:
        import socket

        return f"{socket.gethostname()}:{self.pid}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def terminate(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._log.close()
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_until(predicate: Any, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
