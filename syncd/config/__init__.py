"""The configuration: one TOML file, `SYNCD_*` environment overrides, secrets by reference.

Overrides use a double underscore between table and key, e.g.
`SYNCD_DATABASE__URL=postgresql://...` or `SYNCD_WORKER__MAX_ATTEMPTS=20`.
Secrets never sit in the file: a `*_env` key names an environment variable and
a `*_file` key a file holding the secret.

`load_config` validates the whole file before anything starts and raises one
`ConfigError` listing every problem with its key's path.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    EmailStr,
    Field,
    ValidationError,
    model_validator,
)

from connectors import load_kind
from connectors.secret_refs import SecretRef
from syncd.config.connect import ConnectSettings
from syncd.config.keys import AccountSettings, KeySettings
from syncd.config.manage import ManageSettings
from syncd.config.reconcile import ReconcileSettings
from syncd.config.section import Section
from syncd.config.webhooks import WebhookSettings
from syncd.errors import ConfigError
from syncd.schemas import field_errors

ENV_PREFIX = "SYNCD_"


class DatabaseSettings(Section):
    # sqlite:/// → embedded single-process default; postgresql:// → shared by many workers
    url: str = "sqlite:///var/syncd.db"


class ApiSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    key_env: str | None = "SYNCD_API_KEY"
    key_file: str | None = None
    max_body_bytes: int = Field(default=1_000_000, ge=1024)


class WorkerSettings(Section):
    sweep_interval_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=15, ge=1)
    backoff_base_seconds: float = Field(default=1.0, ge=0)
    backoff_max_seconds: float = Field(default=300.0, ge=0)
    lease_seconds: float = Field(default=60.0, gt=0)
    batch_size: int = Field(default=200, ge=1)
    calendars_in_parallel: int = Field(default=256, ge=1)
    shutdown_timeout_seconds: float = Field(default=10.0, ge=0)


class MailSettings(Section):
    """Notifications and reminders by email; see syncd/notify/."""

    transport: Literal["file", "smtp"] = "file"
    directory: str = "var/mail"  # the file transport: one .eml file per message
    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    allow_plaintext_login: bool = False  # security "none" with a username sends the password
    timeout_seconds: float = Field(default=30.0, gt=0)
    connections: int = Field(default=2, ge=1, le=16)  # SMTP connections used side by side
    from_address: EmailStr = "bookings@syncd.example"
    reply_to: EmailStr | None = None  # a merchant's own reply-to takes precedence
    templates_dir: str | None = None
    max_attempts: int = Field(default=10, ge=1)
    backoff_base_seconds: float = Field(default=30.0, ge=0)
    backoff_max_seconds: float = Field(default=3600.0, ge=0)
    reminder_grace_minutes: float = Field(default=60.0, ge=0)
    send_follow_ups: bool = False
    batch_size: int = Field(default=100, ge=1)
    lease_seconds: float = Field(default=300.0, gt=0)
    sweep_interval_seconds: float = Field(default=30.0, gt=0)
    shutdown_timeout_seconds: float = Field(default=10.0, ge=0)

    @model_validator(mode="after")
    def _no_plaintext_login(self) -> MailSettings:
        if self.security == "none" and self.username and not self.allow_plaintext_login:
            raise ValueError(
                'security = "none" with a username would send the SMTP password in clear: '
                'use "starttls" or "tls", or set mail.allow_plaintext_login = true'
            )
        return self

    def password_ref(self) -> SecretRef:
        return SecretRef("mail.password", self.password_env, self.password_file)

    def password(self) -> str | None:
        return self.password_ref().read()


class MetricsSettings(Section):
    """Prometheus metrics (and /healthz, /readyz) on a listener of their own; see syncd/ops/."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)  # 0: any free port (logged)
    # Gauges read from the database at scrape time: deployment-wide numbers, the same
    # from every process; scrape them from one process, or turn them off on the others.
    database_gauges: bool = True
    database_cache_seconds: float = Field(default=5.0, ge=0)
    database_timeout_seconds: float = Field(default=2.0, gt=0)


class LogSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class EmbeddedSettings(Section):
    """A local Radicale started with the daemon, for `make run`."""

    radicale: bool = False
    radicale_port: int = Field(default=5232, ge=1, le=65535)
    data_dir: str = "var/radicale"  # its password is generated into <data_dir>/password
    username: str = "syncd"
    # create missing secret files (api.key_file, keys.encryption_keys_file, Radicale's
    # password) on first start
    generate_secrets: bool = False
    seed_demo: bool = False


class Settings(Section):
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    connect: ConnectSettings = Field(default_factory=ConnectSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    manage: ManageSettings = Field(default_factory=ManageSettings)
    reconcile: ReconcileSettings = Field(default_factory=ReconcileSettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    accounts: AccountSettings = Field(default_factory=AccountSettings)
    connectors: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def api_key_ref(self) -> SecretRef:
        return SecretRef("api.key", self.api.key_env, self.api.key_file)

    def api_key(self) -> str | None:
        return self.api_key_ref().read()


# TOML's bare-key characters: a stored account's registry name (account.<id>) never is one
CONNECTOR_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _connector_problems(name: str, table: Mapping[str, Any]) -> list[str]:
    if not CONNECTOR_NAME.match(name):
        return [f"connectors.{name}: a connector's name is 1 to 64 letters, digits, - and _"]
    try:
        load_kind(str(table.get("kind"))).Settings.model_validate(table)
    except ValueError as error:
        if isinstance(error, ValidationError):
            return [f"connectors.{name}.{k}: {v}" for k, v in field_errors(error).items()]
        return [f"connectors.{name}.kind: {error}"]
    return []


def apply_env_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """`SYNCD_TABLE__KEY=value` sets raw[table][key]; values are parsed as TOML when they can be."""
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = name.removeprefix(ENV_PREFIX).lower().split("__")
        target = raw
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = _parse_scalar(value)
    return raw


def _parse_scalar(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML ({error})"]) from None


def load_config(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    raw = read_toml(path) if path else {}
    raw = apply_env_overrides(raw, os.environ if environ is None else environ)
    problems = [
        p
        for name, table in _tables(raw.get("connectors")).items()
        for p in _connector_problems(name, table)
    ]
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as error:
        problems = [f"{k}: {v}" for k, v in field_errors(error).items()] + problems
    if problems:
        raise ConfigError(problems)
    return settings


def _tables(value: object) -> dict[str, Mapping[str, Any]]:
    if not isinstance(value, dict):
        return {}
    return {name: table for name, table in value.items() if isinstance(table, Mapping)}


def settings_problems(settings: Settings) -> list[str]:
    """What `syncd check` reports beyond the file's shape: missing secrets and the like."""
    problems = _api_key_problems(settings)
    problems.extend(_secret_problems(settings))
    problems.extend(_mail_problems(settings.mail))
    problems.extend(_manage_problems(settings))
    return problems


def _api_key_problems(settings: Settings) -> list[str]:
    if settings.embedded.generate_secrets and settings.api.key_file:
        return []
    try:
        key = settings.api_key()
    except ConfigError as error:
        return error.problems
    if key:
        return []
    return [f"api.key_env: environment variable {settings.api.key_env} is not set "
            "(or set api.key_file); the API refuses every request without a key"]


def _manage_problems(settings: Settings) -> list[str]:
    manage = settings.manage
    if manage.public_url is None:
        return []
    if manage.secret_file and settings.embedded.generate_secrets:
        return []
    if manage.secret_ref().file_is_missing():
        return [manage.secret_ref().missing_file()]
    if not manage.secret_file and not manage.secret():
        return [f"manage.secret_env: environment variable {manage.secret_env} is not set "
                "(or set manage.secret_file); the manage pages need a secret"]
    return []


def _secret_problems(settings: Settings) -> list[str]:
    problems = []
    for name, table in settings.connectors.items():
        ref = SecretRef(
            f"connectors.{name}.password", table.get("password_env"), table.get("password_file")
        )
        if ref.env_is_unset() and not ref.file_name:
            problems.append(ref.unset_env())
        if ref.file_is_missing() and not settings.embedded.generate_secrets:
            problems.append(ref.missing_file())
    return problems


def _mail_problems(mail: MailSettings) -> list[str]:
    if mail.transport != "smtp":
        return []
    ref = mail.password_ref()
    if ref.env_is_unset() and not ref.file_name:
        return [ref.unset_env()]
    if ref.file_is_missing():
        return [ref.missing_file()]
    if mail.username and not (ref.env_name or ref.file_name):
        return ["mail.username: set mail.password_env or mail.password_file for its password"]
    return []
