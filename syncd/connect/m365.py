"""Microsoft 365 / Outlook: from a sign-in at Microsoft, or a mailbox of an organisation that
has consented, to the calendars to choose from.

One app registration in the configuration (`[connectors.<app>]`, kind m365) serves
every merchant. A staff member either signs in (delegated: authorization code flow
with PKCE through MSAL, connectors/m365/signin.py), and the account's secret is the
token cache; or, where the merchant's organisation has consented (an m365 account
of the merchant's with application permissions), names their mailbox, which the
organisation's account then reaches. Either way the calendars are listed with the
account's own connector, and each failure becomes the page's words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors import build_account
from connectors.errors import AuthError, RemoteError, RemoteNotFound
from connectors.m365 import M365Connector, Settings
from connectors.m365.calendars import CalendarChoice
from connectors.m365.signin import SignInError, finish_delegated_sign_in, start_delegated_sign_in
from syncd.connect.drafts import CalendarOption, Draft
from syncd.connect.problems import M365_WORDS, ConnectError, problem

CALLBACK_PATH = "/connect/m365/callback"
READ_ONLY = "read-only for this account"
_MAILBOX = re.compile(r"^[^\s/@]{1,128}@[A-Za-z0-9.-]{1,190}$")
# what Microsoft says when the organisation has not consented (AADSTS65001: no consent;
# 90094/90095: an administrator must grant it) rather than the person declining
_CONSENT_CODES = ("AADSTS65001", "AADSTS90094", "AADSTS90095", "AADSTS90008")


@dataclass(frozen=True)
class M365App:
    """The app registration the connect pages sign in with."""

    name: str
    table: Mapping[str, Any]  # its [connectors.<name>] table
    redirect_uri: str  # {manage.public_url}/connect/m365/callback

    @property
    def settings(self) -> Settings:
        return Settings.model_validate(dict(self.table))


def find_app(connectors: Mapping[str, Mapping[str, Any]], public_url: str | None,
             chosen: str | None = None) -> M365App | None:
    """The app registration: the one named, else the only m365 table; None without one."""
    tables = {name: t for name, t in connectors.items() if t.get("kind") == "m365"}
    name = chosen if chosen is not None else (next(iter(tables)) if len(tables) == 1 else None)
    if name is None or name not in tables or public_url is None:
        return None
    return M365App(name, tables[name], public_url.rstrip("/") + CALLBACK_PATH)


async def start_sign_in(app: M365App, login_hint: str | None) -> tuple[str, dict[str, Any]]:
    """Where to send the browser, and the flow to keep sealed until Microsoft answers."""
    try:
        return await start_delegated_sign_in(app.settings, app.redirect_uri,
                                             login_hint=login_hint)
    except SignInError as error:
        raise _sign_in_problem(error) from None


def reply_problem(reply: Mapping[str, str]) -> ConnectError | None:
    """The words for an error Microsoft sent back instead of a code, if it did."""
    error = reply.get("error")
    if not error:
        return None
    description = str(reply.get("error_description", ""))[:2000]
    if error == "consent_required" or any(code in description for code in _CONSENT_CODES):
        return problem("consent", M365_WORDS["consent"])
    if error in {"access_denied", "permission_denied", "login_required"}:
        return problem("declined", M365_WORDS["declined"])
    return None  # the connector's reading of it (signin.py) says the rest


async def finish_sign_in(app: M365App, flow: Mapping[str, Any], reply: Mapping[str, str]) -> Draft:
    """The signed-in account and its calendars, as a draft to choose from."""
    early = reply_problem(reply)
    if early is not None:
        raise early
    try:
        signed_in = await finish_delegated_sign_in(app.settings, flow, reply)
    except SignInError as error:
        raise _sign_in_problem(error) from None
    settings = {**app.table, "sign_in": "delegated", "user": signed_in.user,
                "tenant_id": signed_in.tenant_id}
    held = _Held(signed_in.token_cache)
    options = await _listed(settings, held, "me")
    return Draft("m365", settings, held.secret, None, options)


async def mailbox_calendars(org_settings: Mapping[str, Any], account_key: str,
                            mailbox: str) -> Draft:
    """A mailbox of the consented organisation and its calendars, as a draft."""
    if not _MAILBOX.match(mailbox):
        raise problem("no_mailbox", M365_WORDS["no_mailbox"])
    options = await _listed(dict(org_settings), _Held(None), mailbox)
    return Draft("m365", dict(org_settings), None, None, options, account_key=account_key)


async def _listed(
    settings: dict[str, Any], held: _Held, mailbox: str
) -> tuple[CalendarOption, ...]:
    connector = build_account(settings, held)
    assert isinstance(connector, M365Connector)
    try:
        found = await connector.list_calendars(mailbox)
    except AuthError:
        raise problem("consent", M365_WORDS["consent"]) from None
    except RemoteNotFound:
        raise problem("no_mailbox", M365_WORDS["no_mailbox"]) from None
    except RemoteError:
        raise problem("unavailable", M365_WORDS["unavailable"]) from None
    finally:
        await connector.aclose()
    options = tuple(_option(choice) for choice in found)
    if not any(option.usable for option in options):
        raise problem("no_calendars", M365_WORDS["no_calendars"])
    return options


def _option(choice: CalendarChoice) -> CalendarOption:
    why_not = None if choice.can_edit else READ_ONLY
    return CalendarOption(choice.calendar_id, choice.name, choice.color, why_not is None, why_not)


def _sign_in_problem(error: SignInError) -> ConnectError:
    words = M365_WORDS.get(error.reason, M365_WORDS["refused"])
    return problem(error.reason, words, None if error.reason != "refused" else str(error))


class _Held:
    """The token cache while the calendars are listed (MSAL may refresh it meanwhile)."""

    def __init__(self, secret: str | None) -> None:
        self.secret = secret

    def read(self) -> str | None:
        return self.secret

    def write(self, secret: str) -> None:
        self.secret = secret
