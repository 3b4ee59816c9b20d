"""Configuration: one TOML file plus DIGEST_<SECTION>_<KEY> environment overrides.

Every key has a default here, and `config.example.toml` documents each one (a test keeps
them in step). Invalid values fail at start-up with one line naming the key: a value of
the wrong type in config_values.py, a value that does not fit with the others here.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse_many

from digest.config_values import ConfigError as ConfigError
from digest.config_values import build_section

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"


def _choices(*values: str) -> dict[str, Any]:
    return {"choices": values}


@dataclass(frozen=True)
class SiteConfig:
    name: str = "Council Digest"
    base_url: str = "http://127.0.0.1:5000"
    contact_email: str = "hello@council-digest.localhost"
    secret_key: str = ""
    timezone: str = "Europe/London"
    var_dir: str = "var"
    proxy_count: int = 0
    log_format: str = field(default="text", metadata=_choices("text", "json"))
    log_level: str = field(default="INFO", metadata=_choices("DEBUG", "INFO", "WARNING", "ERROR"))
    # Set by `make demo`: every page says it is a demo.
    demo: bool = False


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 5000
    rate_limit_storage: str = "memory://"
    subscribe_limit_per_ip: str = "10 per minute; 60 per hour"
    subscribe_limit_per_email: str = "5 per hour"
    request_limit_per_ip: str = "5 per minute; 20 per hour"
    login_limit_per_ip: str = "5 per minute; 30 per hour"
    admin_idle_minutes: int = 30
    public_cache_seconds: int = 30
    # Bearer token for the full /metrics; without one /metrics shows only figures no
    # single person's action moves (see digest/web/ops.py).
    metrics_token: str = ""


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite:///var/digest.sqlite3"


@dataclass(frozen=True)
class MailConfig:
    backend: str = field(default="maildir", metadata=_choices("maildir", "smtp"))
    maildir_path: str = "var/mail"
    from_address: str = "digest@council-digest.localhost"
    from_name: str = "Council Digest"
    reply_to: str = ""
    bounce_domain: str = ""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_security: str = field(default="none", metadata=_choices("none", "starttls", "tls"))
    smtp_timeout: float = 30.0
    smtp_data_timeout: float = 600.0
    smtp_ca_file: str = ""
    messages_per_connection: int = 100
    rate_per_second: float = 20.0
    domain_rates: dict[str, float] = field(
        default_factory=lambda: {"gmail": 10.0, "microsoft": 10.0, "yahoo": 5.0}
    )
    max_attempts: int = 8
    domain_pause_seconds: int = 900
    breaker_failures: int = 25
    breaker_pause_seconds: int = 1800
    lease_seconds: int = 300
    batch_size: int = 50
    confirmations_per_day: int = 3
    soft_bounce_limit: int = 3
    dkim_domain: str = ""
    dkim_selector: str = ""
    dkim_private_key_path: str = ""
    # Optional second signature with Ed25519 (RFC 8463), under its own selector.
    dkim_ed25519_selector: str = ""
    dkim_ed25519_key_path: str = ""


@dataclass(frozen=True)
class CollectorConfig:
    user_agent: str = (
        "CouncilDigest/0.1 (+https://github.com/council-digest/council-digest; civic alerts)"
    )
    timeout: float = 30.0
    concurrency: int = 8
    per_host_interval: float = 1.0
    days_back: int = 14
    days_ahead: int = 60
    allow_private_hosts: bool = False
    max_response_bytes: int = 20_000_000
    recheck_hours: float = 12.0
    # Minutes and decision notices published only as PDF (SPEC §12.1).
    pdf_text: bool = True
    max_pdf_bytes: int = 25_000_000
    reports_per_meeting: int = 5
    # CMIS renders a month of its calendar slowly (about 40 s at Birmingham).
    cmis_timeout: float = 120.0


@dataclass(frozen=True)
class ScheduleConfig:
    collect: str = "0 */6 * * *"
    weekly_digest: str = "0 7 * * mon"
    demand: str = "30 6 * * *"
    purge: str = "15 3 * * *"
    councillors: str = "40 5 * * *"
    deliver_every_seconds: int = 10


@dataclass(frozen=True)
class DigestConfig:
    quiet_weeks: str = field(default="skip", metadata=_choices("skip", "send"))
    # Processes rendering the week's digests while the build stores them; 0: one per CPU.
    build_processes: int = 0


@dataclass(frozen=True)
class WatchConfig:
    daily: str = "30 7 * * *"
    weekly: str = "30 7 * * mon"
    max_keywords: int = 10


@dataclass(frozen=True)
class DemandConfig:
    professional_weight: int = 10
    public_threshold: int = 10
    auto_enable_threshold: int = 0
    max_enabled_councils: int = 0


@dataclass(frozen=True)
class LookupConfig:
    # A postcodes.io-compatible API; empty turns online postcode lookup off.
    postcode_api: str = "https://api.postcodes.io"
    timeout: float = 3.0
    cache_hours: float = 168.0


@dataclass(frozen=True)
class Config:
    site: SiteConfig = field(default_factory=SiteConfig)
    web: WebConfig = field(default_factory=WebConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    collector: CollectorConfig = field(default_factory=CollectorConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    demand: DemandConfig = field(default_factory=DemandConfig)
    lookup: LookupConfig = field(default_factory=LookupConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    @property
    def var_path(self) -> Path:
        return Path(self.site.var_dir)

    def replace(self, **sections: Mapping[str, Any]) -> Config:
        """A copy with some keys changed, validated like a file.

        Example: `config.replace(mail={"backend": "smtp"})`.
        """
        data = as_dict(self)
        for section, values in sections.items():
            data[section].update(values)
        return _build(data, env={})


def sections() -> dict[str, type[Any]]:
    """Section name -> dataclass, in file order."""
    return {f.name: _section_type(f) for f in dataclasses.fields(Config)}


def _section_type(f: dataclasses.Field[Any]) -> type[Any]:
    hints = typing.get_type_hints(Config)
    section: type[Any] = hints[f.name]
    return section


def as_dict(config: Config) -> dict[str, dict[str, Any]]:
    return {name: dataclasses.asdict(getattr(config, name)) for name in sections()}


def load_config(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Read config from `path`, else $DIGEST_CONFIG, else ./config.toml, else defaults."""
    env = os.environ if env is None else env
    chosen = (
        path
        or env.get("DIGEST_CONFIG")
        or ("config.toml" if Path("config.toml").exists() else None)
    )
    data: dict[str, Any] = {}
    if chosen:
        try:
            with open(chosen, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {chosen}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {chosen} is not valid TOML: {exc}") from exc
    return _build(data, env)


def _build(data: Mapping[str, Any], env: Mapping[str, str]) -> Config:
    known = sections()
    for name in data:
        if name not in known:
            raise ConfigError(f"[{name}] is not a known section (known: {', '.join(known)})")
    built: dict[str, Any] = {}
    for name, cls in known.items():
        raw = data.get(name, {})
        if not isinstance(raw, Mapping):
            raise ConfigError(f"[{name}] must be a table")
        built[name] = build_section(name, cls, raw, env)
    config = Config(**built)
    _validate(config)
    return config


def _validate(config: Config) -> None:
    url = urlsplit(config.site.base_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ConfigError(
            f"[site] base_url must be an absolute http(s) URL (got {config.site.base_url!r})"
        )
    if config.site.base_url.endswith("/"):
        raise ConfigError("[site] base_url must not end with a slash")
    try:
        ZoneInfo(config.site.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"[site] timezone is not a known time zone (got {config.site.timezone!r})"
        ) from exc
    if "@" not in config.mail.from_address:
        raise ConfigError(
            f"[mail] from_address must be an email address (got {config.mail.from_address!r})"
        )
    if not (
        config.database.url.startswith("sqlite:") or config.database.url.startswith("postgresql")
    ):
        raise ConfigError(
            f"[database] url must be a sqlite: or postgresql URL (got {config.database.url!r})"
        )
    for key in ("collect", "weekly_digest", "demand", "purge", "councillors"):
        expr = getattr(config.schedule, key)
        try:
            cron_trigger(expr, config.tz)
        except ValueError as exc:
            raise ConfigError(
                f"[schedule] {key} is not a valid cron expression ({expr!r}: {exc})"
            ) from exc
    for key in ("daily", "weekly"):
        expr = getattr(config.watch, key)
        try:
            cron_trigger(expr, config.tz)
        except ValueError as exc:
            raise ConfigError(
                f"[watch] {key} is not a valid cron expression ({expr!r}: {exc})"
            ) from exc
    if not 1 <= config.watch.max_keywords <= 50:
        raise ConfigError("[watch] max_keywords must be between 1 and 50")
    if config.digest.build_processes < 0:
        raise ConfigError("[digest] build_processes must be 0 (one per CPU) or more")
    if config.schedule.deliver_every_seconds < 1:
        raise ConfigError("[schedule] deliver_every_seconds must be at least 1")
    for key in (
        "subscribe_limit_per_ip",
        "subscribe_limit_per_email",
        "request_limit_per_ip",
        "login_limit_per_ip",
    ):
        value = getattr(config.web, key)
        try:
            parse_many(value)
        except ValueError as exc:
            raise ConfigError(
                f'[web] {key} must be limits like "10 per minute; 60 per hour" (got {value!r})'
            ) from exc
    dkim = (config.mail.dkim_domain, config.mail.dkim_selector, config.mail.dkim_private_key_path)
    if any(dkim) and not all(dkim):
        raise ConfigError(
            "[mail] dkim_domain, dkim_selector and dkim_private_key_path must be set together"
        )
    ed25519 = (config.mail.dkim_ed25519_selector, config.mail.dkim_ed25519_key_path)
    if any(ed25519) and not (all(ed25519) and all(dkim)):
        raise ConfigError(
            "[mail] dkim_ed25519_selector and dkim_ed25519_key_path go together, and with the "
            "RSA key: Ed25519 is a second signature, not a replacement"
        )
    if all(ed25519) and config.mail.dkim_ed25519_selector == config.mail.dkim_selector:
        raise ConfigError("[mail] dkim_ed25519_selector must differ from dkim_selector")
    if config.mail.messages_per_connection < 1:
        raise ConfigError("[mail] messages_per_connection must be at least 1")
    if config.mail.soft_bounce_limit < 1:
        raise ConfigError("[mail] soft_bounce_limit must be at least 1")
    if config.mail.max_attempts < 1:
        raise ConfigError("[mail] max_attempts must be at least 1")
    if config.mail.lease_seconds < 4 * config.mail.smtp_timeout:
        # A lease shorter than one slow SMTP exchange would let a second worker take over
        # a message the first is still sending.
        raise ConfigError("[mail] lease_seconds must be at least 4 x smtp_timeout")
    if config.mail.smtp_data_timeout < config.mail.smtp_timeout:
        raise ConfigError("[mail] smtp_data_timeout must be at least smtp_timeout")
    if config.collector.concurrency < 1:
        raise ConfigError("[collector] concurrency must be at least 1")
    api = urlsplit(config.lookup.postcode_api)
    if config.lookup.postcode_api and (api.scheme not in ("http", "https") or not api.netloc):
        raise ConfigError(
            "[lookup] postcode_api must be an absolute http(s) URL or empty "
            f"(got {config.lookup.postcode_api!r})"
        )
    if config.lookup.timeout <= 0:
        raise ConfigError("[lookup] timeout must be more than 0")
    if config.collector.max_pdf_bytes < 1024:
        raise ConfigError("[collector] max_pdf_bytes must be at least 1024")
    if config.collector.reports_per_meeting < 0:
        raise ConfigError("[collector] reports_per_meeting must be 0 or more")


def cron_trigger(expr: str, tz: ZoneInfo) -> Any:
    """An APScheduler CronTrigger for a crontab line, always in the site's zone."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(expr, timezone=tz)


def ensure_secret_key(config: Config) -> Config:
    """Fill an unset secret key from var/secret_key, creating that file on first run."""
    if config.site.secret_key:
        return config
    path = config.var_path / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    key = path.read_text().strip()
    if len(key) < 32:
        raise ConfigError(f"[site] secret_key from {path} is too short (need 32+ characters)")
    return dataclasses.replace(config, site=dataclasses.replace(config.site, secret_key=key))
