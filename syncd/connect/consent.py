"""A merchant's organisation consents to the app (Microsoft's admin consent), and syncd records
its tenant as an m365 account of the merchant's: staff of that organisation then bind their
mailbox by address on the connect page, without signing in.

The link's `state` is sealed (the credentials' keys): it names the merchant and when it
stops working, so the answer that comes back to `/connect/m365/consent` needs no row of
its own. An administrator who declines, or a state that is not ours or too old, changes
nothing.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from connectors.m365.signin import SignInError, admin_consent_url, parse_admin_consent_reply
from syncd.connect.drafts import Seal
from syncd.connect.m365 import CALLBACK_PATH, M365App
from syncd.connect.problems import M365_WORDS, ConnectError, problem
from syncd.store.accounts import AccountChange, upsert_account
from syncd.store.catalog import get_merchant
from syncd.store.models import ConnectorAccount
from syncd.store.sealing import SealError

CONSENT_PATH = CALLBACK_PATH.rsplit("/", 1)[0] + "/consent"  # /connect/m365/consent
ORGANISATION_KEY = "m365-organisation"
LINK_HOURS = 24


def consent_link(
    app: M365App, seal: Seal, merchant_key: str, now: datetime
) -> tuple[str, datetime]:
    """Where the merchant's administrator consents, and until when the answer is taken."""
    expires = now + timedelta(hours=LINK_HOURS)
    state = seal.seal(json.dumps({"merchant": merchant_key, "expires": expires.isoformat(),
                                  "nonce": secrets.token_urlsafe(8)}))
    return admin_consent_url(app.settings, consent_redirect_uri(app), state), expires


def consent_redirect_uri(app: M365App) -> str:
    return app.redirect_uri.removesuffix(CALLBACK_PATH) + CONSENT_PATH


def merchant_of(seal: Seal, state: str, now: datetime) -> str | None:
    """The merchant a consent answer is for; None for a state not ours or too old."""
    try:
        data = json.loads(seal.open(state))
        expires = datetime.fromisoformat(str(data["expires"]))
        merchant = str(data["merchant"])
    except (SealError, ValueError, KeyError, TypeError):  # not sealed by us, or not so
        return None
    return merchant if now < expires else None


def consented_tenant(reply: Mapping[str, str]) -> str:
    """The tenant the administrator consented for; `ConnectError` in words otherwise."""
    try:
        return parse_admin_consent_reply(reply, str(reply.get("state", "")))
    except SignInError as error:
        code = "consent" if error.reason == "declined" else error.reason
        raise problem(code, M365_WORDS.get(code, M365_WORDS["refused"])) from None


def record_organisation(
    session: Session, app: M365App, merchant_key: str, tenant: str
) -> ConnectorAccount:
    """The merchant's organisation account (application permissions in `tenant`)."""
    settings: dict[str, Any] = {**app.table, "tenant_id": tenant}
    merchant = get_merchant(session, merchant_key)
    account, _ = upsert_account(session, merchant, ORGANISATION_KEY,
                                AccountChange("m365", settings, None))
    return account


__all__ = ["ConnectError", "consent_link", "consented_tenant", "merchant_of",
           "record_organisation"]
