"""Typed configuration values from TOML and from DIGEST_<SECTION>_<KEY> environment
strings: each key read as its dataclass field's type, refused with a message naming the
key when it is not one. The sections themselves and the checks across keys are in
digest/config.py."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any


class ConfigError(Exception):
    """A configuration value is missing or invalid; the message names the key."""


def build_section(name: str, cls: type[Any], raw: Mapping[str, Any], env: Mapping[str, str]) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            raise ConfigError(f"[{name}] {key} is not a known key")
    values: dict[str, Any] = {}
    for key, f in fields.items():
        env_name = f"DIGEST_{name.upper()}_{key.upper()}"
        if env_name in env:
            value: Any = from_env(env[env_name], hints[key], f"{env_name}")
        elif key in raw:
            value = raw[key]
        else:
            continue
        values[key] = coerce(value, hints[key], f"[{name}] {key}")
        choices = f.metadata.get("choices")
        if choices and values[key] not in choices:
            raise ConfigError(
                f"[{name}] {key} must be one of {', '.join(choices)} (got {values[key]!r})"
            )
    return cls(**values)


def from_env(text: str, kind: Any, where: str) -> Any:
    if typing.get_origin(kind) is dict:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where} must be a JSON object") from exc
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{where} must be true or false (got {text!r})")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError as exc:
            raise ConfigError(f"{where} must be a number (got {text!r})") from exc
    return text


def coerce(value: Any, kind: Any, where: str) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false (got {value!r})")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be a whole number (got {value!r})")
        if value < 0:
            raise ConfigError(f"{where} must not be negative (got {value!r})")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number (got {value!r})")
        if value < 0:
            raise ConfigError(f"{where} must not be negative (got {value!r})")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string (got {value!r})")
        return value
    if typing.get_origin(kind) is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a table")
        return {str(k): coerce(v, float, f"{where}.{k}") for k, v in value.items()}
    if isinstance(kind, types.UnionType):  # pragma: no cover - no optional keys today
        return value
    raise ConfigError(f"{where} has an unsupported type")  # pragma: no cover
