"""What the sign-in and delegated-account tests share: an app with a redirect URI, a held
credential, and the browser's part of Microsoft's redirects (the Graph double's pages)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.m365 import Settings
from connectors.m365.signin import finish_delegated_sign_in, start_delegated_sign_in
from tests.graph import GraphDouble
from tests.graph.signin_helpers import follow, posted_to
from tests.m365.support import connector_table

REDIRECT_URI = "https://shop.example/connect/m365/callback"


@dataclass
class HeldCredential:
    """The caller's side of `Credential`: the secret, and every version written back."""

    secret: str | None = None
    writes: list[str] = field(default_factory=list)
    on_event_loop: list[bool] = field(default_factory=list)  # for each write

    def read(self) -> str | None:
        return self.secret

    def write(self, secret: str) -> None:
        self.on_event_loop.append(_loop_running())
        self.secret = secret
        self.writes.append(secret)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def app_table(double: GraphDouble, directory: Path, **overrides: Any) -> dict[str, Any]:
    """The `[connectors.<app>]` table of a new app registration with REDIRECT_URI."""
    client_id, secret = str(uuid.uuid4()), f"secret-{uuid.uuid4().hex}"
    double.add_app(client_id, secret=secret, redirect_uris=(REDIRECT_URI,))
    return connector_table(
        double, client_id=client_id, secret=secret, directory=directory, **overrides
    )


def add_staff(double: GraphDouble, tenant: str | None = None) -> str:
    upn = f"staff-{uuid.uuid4().hex[:8]}@contoso.test"
    double.add_user(upn, tenant)
    return upn


async def sign_in(double: GraphDouble, table: dict[str, Any], upn: str) -> Any:
    """`upn` signs in through the connect page's two calls; the DelegatedSignIn."""
    settings = Settings.model_validate(table)
    double.sign_in(upn)
    url, flow = await start_delegated_sign_in(settings, REDIRECT_URI)
    target, fields = posted_to(follow(double, url))
    assert target == REDIRECT_URI
    return await finish_delegated_sign_in(settings, flow, fields)


def delegated_settings(table: dict[str, Any], signed_in: Any) -> Settings:
    """The account's settings: the app's table with the account's own fields over it."""
    account = {"sign_in": "delegated", "user": signed_in.user, "tenant_id": signed_in.tenant_id}
    return Settings.model_validate({**table, **account})
