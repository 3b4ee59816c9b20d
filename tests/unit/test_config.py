"""Configuration: documented, overridable, and loud about mistakes."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from digest.config import ROOT, Config, ConfigError, ensure_secret_key, load_config, sections

EXAMPLE = ROOT / "config.example.toml"


def test_example_documents_every_key_and_only_real_keys() -> None:
    example = tomllib.loads(EXAMPLE.read_text())
    for name, cls in sections().items():
        assert name in example, f"[{name}] missing from config.example.toml"
        in_code = {f.name for f in dataclasses.fields(cls)}
        in_example = set(example[name])
        assert in_code - in_example == set(), (
            f"[{name}] keys not documented: {in_code - in_example}"
        )
        assert in_example - in_code == set(), f"[{name}] keys not in code: {in_example - in_code}"
    assert set(example) == set(sections())


def test_every_example_key_has_a_comment() -> None:
    lines = EXAMPLE.read_text().splitlines()
    for index, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            above = lines[index - 1].strip()
            assert above.startswith("#") or "=" in above, (
                f"undocumented key on line {index + 1}: {line}"
            )


def test_example_values_are_the_defaults() -> None:
    assert load_config(EXAMPLE, env={}) == Config()


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.database.url == "sqlite:///var/digest.sqlite3"
    assert config.mail.backend == "maildir"


def test_config_toml_in_working_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text('[site]\nname = "Wigan Watch"\n')
    assert load_config(env={}).site.name == "Wigan Watch"


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[mail]\nsmtp_password = "from-file"\nsmtp_port = 25\n')
    config = load_config(
        path,
        env={
            "DIGEST_MAIL_SMTP_PASSWORD": "from-env",
            "DIGEST_MAIL_SMTP_PORT": "587",
            "DIGEST_COLLECTOR_ALLOW_PRIVATE_HOSTS": "true",
            "DIGEST_MAIL_DOMAIN_RATES": '{"gmail": 2}',
        },
    )
    assert config.mail.smtp_password == "from-env"
    assert config.mail.smtp_port == 587
    assert config.collector.allow_private_hosts is True
    assert config.mail.domain_rates == {"gmail": 2.0}


def test_digest_config_variable_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("[demand]\nprofessional_weight = 3\n")
    assert load_config(env={"DIGEST_CONFIG": str(path)}).demand.professional_weight == 3


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[mail]\nsmtp_port = "abc"', "[mail] smtp_port"),
        ('[mail]\nbackend = "carrier-pigeon"', "[mail] backend"),
        ('[site]\nbase_url = "example.org"', "[site] base_url"),
        ('[site]\nbase_url = "https://example.org/"', "[site] base_url"),
        ('[site]\ntimezone = "Mars/Olympus"', "[site] timezone"),
        ('[schedule]\nweekly_digest = "every monday"', "[schedule] weekly_digest"),
        ("[collector]\ntimeout = -1", "[collector] timeout"),
        ('[collector]\nallow_private_hosts = "yes"', "[collector] allow_private_hosts"),
        ('[mail]\nsmtp_hostname = "x"', "[mail] smtp_hostname"),
        ("[mailer]\nx = 1", "[mailer]"),
        ('[mail]\ndkim_domain = "example.org"', "[mail] dkim_domain"),
        ('[database]\nurl = "mysql://x"', "[database] url"),
        ('[web]\nsubscribe_limit_per_ip = "ten a minute"', "[web] subscribe_limit_per_ip"),
    ],
)
def test_invalid_config_fails_with_one_line_naming_the_key(
    tmp_path: Path, text: str, key: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert key in message
    assert "\n" not in message


def test_invalid_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="DIGEST_MAIL_SMTP_PORT"):
        load_config(env={"DIGEST_MAIL_SMTP_PORT": "twenty-five", "DIGEST_CONFIG": str(EXAMPLE)})


def test_broken_toml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[site\nname=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, env={})


def test_secret_key_is_generated_once_into_var(tmp_path: Path) -> None:
    config = Config().replace(site={"var_dir": str(tmp_path / "var")})
    first = ensure_secret_key(config)
    second = ensure_secret_key(config)
    key_file = tmp_path / "var" / "secret_key"
    assert first.site.secret_key == second.site.secret_key == key_file.read_text().strip()
    assert len(first.site.secret_key) >= 32
    assert key_file.stat().st_mode & 0o077 == 0


def test_explicit_secret_key_is_kept(tmp_path: Path) -> None:
    config = Config().replace(site={"var_dir": str(tmp_path), "secret_key": "x" * 40})
    assert ensure_secret_key(config).site.secret_key == "x" * 40
    assert not (tmp_path / "secret_key").exists()


def test_cli_reports_invalid_config_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from digest.cli import main

    path = tmp_path / "bad.toml"
    path.write_text('[mail]\nsmtp_port = "abc"\n')
    result = CliRunner().invoke(main, ["--config", str(path), "councils", "list"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "digest: invalid configuration: [mail] smtp_port must be a whole number (got 'abc')"
    ]
