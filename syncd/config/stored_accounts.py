"""A stored account's settings: what is stored, and what its connector is built from.

A Microsoft 365 account stored as data keeps only its own fields:

    app        the name of the app registration's `[connectors.<app>]` table (kind m365)
    tenant_id  the organisation (its consent, or the signed-in user's home tenant)
    sign_in    "app" (application permissions, the default) or "delegated"
    user       the signed-in principal name (delegated only)

The app's table, as the configuration has it now, is merged in whenever the
connector is built: another client secret, certificate or authority in the table
reaches every stored account at once. Accounts stored before this shape (the
whole app table copied, no `app` field) are used as they were stored, and keep
working until they are connected again. Other kinds (caldav) store their whole
table and are used as stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors import account_settings, calendar_identity
from syncd.errors import ConfigError

M365: Literal["m365"] = "m365"
_NAME = r"^[A-Za-z0-9_-]{1,64}$"  # a [connectors.<name>] table's name
_OWN = ("tenant_id", "sign_in", "user")


class M365Account(BaseModel):
    """The own fields of a stored Microsoft 365 account (the API's `settings`)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["m365"] = M365
    app: str = Field(pattern=_NAME)
    tenant_id: str = Field(min_length=1, max_length=256)
    sign_in: Literal["app", "delegated"] = "app"
    user: str | None = Field(default=None, max_length=320)


def connector_settings(
    stored: Mapping[str, Any], connectors: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """What the account's connector is built from: its own fields over its app's table (an
    m365 account naming `app`), else the settings as stored. `ConfigError` when the app
    registration it names is no longer configured."""
    if stored.get("kind") != M365 or "app" not in stored:
        return dict(stored)
    app = str(stored["app"])
    table = connectors.get(app)
    if table is None or table.get("kind") != M365:
        raise ConfigError([f"the app registration [connectors.{app}] (kind m365) this "
                           "Microsoft 365 account was connected with is not configured"])
    unknown = sorted(set(stored) - {"kind", "app", *_OWN})
    if unknown:
        raise ConfigError([f"unknown fields of a Microsoft 365 account: {', '.join(unknown)}"])
    return {**table, **{k: stored[k] for k in _OWN if k in stored}}


def stored_settings(
    raw: Mapping[str, Any], connectors: Mapping[str, Mapping[str, Any]],
    default_app: str | None = None,
) -> dict[str, Any]:
    """The settings to store for an account of `raw["kind"]`, validated (`ValidationError`
    naming fields; `ValueError` for an unknown kind; `ConfigError` for an app registration
    not configured): an m365 account's own fields, checked merged with its app's table;
    another kind's table as its Settings validates it."""
    if raw.get("kind") != M365:
        settings = account_settings(raw)
        return settings.model_dump(mode="json", exclude_unset=True) | {"kind": raw["kind"]}
    given = dict(raw)
    if "app" not in given and default_app is not None:
        given["app"] = default_app
    own = M365Account.model_validate(given).model_dump(mode="json", exclude_none=True)
    account_settings(connector_settings(own, connectors))
    return own


def only_m365_app(
    connectors: Mapping[str, Mapping[str, Any]], chosen: str | None = None
) -> str | None:
    """The app registration an account names when it names none: the one chosen
    (`[connect] m365_app`), else the only m365 table."""
    if chosen is not None:
        return chosen
    names = [name for name, table in connectors.items() if table.get("kind") == M365]
    return names[0] if len(names) == 1 else None


def stored_shape(settings: Mapping[str, Any]) -> None:
    """Check settings about to be stored without the app's table (the connect page made
    them from it): an m365 account's own fields, another kind's whole table."""
    if settings.get("kind") == M365:
        M365Account.model_validate(settings)
    else:
        account_settings(settings)


def identity_of(
    settings: Mapping[str, Any],
    calendar_id: str,
    connectors: Mapping[str, Mapping[str, Any]],
    *,
    stored: bool,
) -> str | None:
    """Where `calendar_id` of an account lives (`connectors.calendar_identity`): a stored
    account's `settings` (its app's table merged in), or a `[connectors.<name>]` table's.
    None when it cannot be told, or the settings no longer build an account (binding it
    is refused elsewhere, with the reason)."""
    try:
        raw = connector_settings(settings, connectors) if stored else settings
        return calendar_identity(raw, calendar_id, stored=stored)
    except (ConfigError, ValidationError, ValueError):
        return None
