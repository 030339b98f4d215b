"""Typed settings, read once at start.

Sources, strongest first: ``POSTLINE_*`` environment variables, then the YAML
file named by ``POSTLINE_CONFIG`` (or ``--config`` on the command line), then
the defaults below. Nested values use a double underscore in variables, e.g.
``POSTLINE_SMTP_ROUTES='{"example.com": "127.0.0.1:2525"}'``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from postline.errors import ConfigError


class _YamlFileSource(PydanticBaseSettingsSource):
    """Reads the optional YAML config file named by ``POSTLINE_CONFIG``."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._data = _read_config_file(os.environ.get("POSTLINE_CONFIG"))

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def _read_config_file(path: str | None) -> dict[str, Any]:
    if not path:
        return {}

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file {path}: not found")

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path}: not valid YAML: {exc}") from exc

    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping at the top")

    return data


class Settings(BaseSettings):
    """Everything a Postline process needs to find its peers."""

    model_config = SettingsConfigDict(env_prefix="POSTLINE_", extra="forbid")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postline"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    spool_dir: Path = Path("var/spool")

    # Recipient domain -> "host:port". The key "*" routes every domain not
    # listed; only when there is no "*" are unlisted domains routed by MX.
    smtp_routes: dict[str, str] = Field(default_factory=dict)

    # Name this node gives in EHLO and on the right of Message-IDs.
    hostname: str = "postline.localhost"

    # Base of the https unsubscribe link in List-Unsubscribe.
    unsubscribe_url: str = "https://unsubscribe.postline.localhost/u"

    # Timeouts of one SMTP attempt, in seconds.
    smtp_connect_timeout: float = Field(10.0, gt=0)
    smtp_command_timeout: float = Field(60.0, gt=0)

    # How many rows the campaign run renders and publishes per batch.
    campaign_batch_size: int = Field(500, ge=1, le=100_000)

    # How many status events the registrar applies per transaction.
    registrar_batch_size: int = Field(500, ge=1, le=65_535)

    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFileSource(settings_cls))

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, url: str) -> str:
        # Postline talks to PostgreSQL through asyncpg only; accept the plain
        # URL forms operators copy from elsewhere and name the driver for them.
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url[len(plain) :]
        if not url.startswith("postgresql+asyncpg://"):
            raise ValueError(f"expected a postgresql:// URL, got {url!r}")
        return url

    @field_validator("smtp_routes")
    @classmethod
    def _routes_have_ports(cls, routes: dict[str, str]) -> dict[str, str]:
        for domain, target in routes.items():
            host, _, port = target.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(
                    f"route for {domain}: expected host:port, got {target!r}"
                )
        return {domain.lower(): target for domain, target in routes.items()}


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into one readable error."""
    try:
        return Settings(**overrides)
    except SettingsError as exc:
        # A variable holding JSON that does not parse, e.g. POSTLINE_SMTP_ROUTES.
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise ConfigError(f"settings: {exc}{cause}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"settings: {problems}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return load_settings()
