"""A delegated account's connector against the Graph double: its token cache from the
credential, /me requests, refreshes written back, refused refresh tokens as AuthError."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import AuthError, PermanentError, RemoteNotFound
from connectors.m365 import M365Connector, Settings, build, build_with_credential
from connectors.m365.calendar import InvalidCalendar, M365Calendar
from connectors.m365.calendars import CalendarChoice
from connectors.push import Endpoints
from syncd.timeutil import utcnow
from tests.contract.suite import spec
from tests.graph import GraphDouble
from tests.graph.receiver import NotificationReceiver
from tests.m365.signin_support import (
    HeldCredential,
    add_staff,
    app_table,
    delegated_settings,
    sign_in,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
def table(double: GraphDouble, tmp_path: Path) -> dict[str, Any]:
    return app_table(double, tmp_path)


@pytest.fixture
def staff(double: GraphDouble) -> str:
    return add_staff(double)


@pytest.fixture
async def signed_in(double: GraphDouble, table: dict[str, Any], staff: str) -> Any:
    return await sign_in(double, table, staff)


@pytest.fixture
def credential(signed_in: Any) -> HeldCredential:
    return HeldCredential(signed_in.token_cache)


@pytest.fixture
def account(table: dict[str, Any], signed_in: Any) -> Settings:
    """The delegated account's settings."""
    return delegated_settings(table, signed_in)


@pytest.fixture
async def connector(account: Settings, credential: HeldCredential) -> AsyncIterator[M365Connector]:
    made = build_with_credential(account, credential)
    yield made
    await made.aclose()


def refresh_tokens(cache: str) -> list[str]:
    return [entry["secret"] for entry in json.loads(cache)["RefreshToken"].values()]


async def test_the_account_writes_to_its_own_calendar_through_me(
    double: GraphDouble, connector: M365Connector, staff: str, credential: HeldCredential
) -> None:
    ref = await connector.calendar("me").create(spec())
    assert [e["id"] for e in double.events(staff)] == [ref.remote_id]
    assert any(path.startswith("/me/calendar/events") for _, _, path, _ in double.stats.log)
    assert credential.writes == []  # the access token of the sign-in served: nothing changed


async def test_a_refresh_is_written_back_to_the_credential(
    double: GraphDouble, connector: M365Connector, staff: str, credential: HeldCredential
) -> None:
    first = credential.secret
    assert first is not None
    await connector.calendar("me").create(spec("b-1"))
    double.expire_tokens()  # Graph refuses the access token: MSAL refreshes
    await connector.calendar("me").create(spec("b-2"))
    assert len(credential.writes) == 1
    assert credential.on_event_loop == [False]  # syncd's write blocks on its database
    (rotated,) = refresh_tokens(credential.writes[0])
    assert refresh_tokens(first) != [rotated]
    assert len(double.events(staff)) == 2


async def test_a_rebuilt_connector_uses_the_written_cache(
    double: GraphDouble, account: Settings, connector: M365Connector, credential: HeldCredential
) -> None:
    await connector.calendar("me").create(spec("b-1"))
    double.expire_tokens()
    await connector.calendar("me").create(spec("b-2"))  # the refresh token rotated
    rebuilt = build_with_credential(account, credential)
    try:
        double.expire_tokens()
        await rebuilt.calendar("me").create(spec("b-3"))
    finally:
        await rebuilt.aclose()
    assert account.user is not None
    assert len(double.events(account.user)) == 3


@pytest.mark.parametrize(
    "case",
    [
        (GraphDouble.revoke_sessions, "AADSTS50173"),
        (GraphDouble.expire_refresh_tokens, "AADSTS700082"),
    ],
    ids=["revoked", "expired"],
)
async def test_a_refused_refresh_token_is_an_auth_error_asking_to_sign_in_again(
    double: GraphDouble,
    connector: M365Connector,
    staff: str,
    credential: HeldCredential,
    case: tuple[Any, str],
) -> None:
    spoil, code = case
    await connector.calendar("me").create(spec("b-1"))
    spoil(double, staff)
    double.expire_tokens()
    with pytest.raises(AuthError) as caught:
        await connector.calendar("me").create(spec("b-2"))
    message = str(caught.value)
    assert "sign in to Microsoft 365 again" in message
    assert code in message
    assert credential.secret is not None
    assert not any(token in message for token in refresh_tokens(credential.secret))
    assert staff not in message


async def test_withdrawn_consent_is_an_auth_error(
    double: GraphDouble,
    table: dict[str, Any],
    connector: M365Connector,
    staff: str,
) -> None:
    double.withdraw_consent(staff, table["client_id"])
    double.expire_tokens()
    with pytest.raises(AuthError, match=r"AADSTS65001.*sign in"):
        await connector.calendar("me").create(spec())


@pytest.mark.parametrize("stored", [None, "", "not json", "[1, 2]"])
async def test_no_usable_token_cache_is_an_auth_error(
    account: Settings, stored: str | None
) -> None:
    made = build_with_credential(account, HeldCredential(stored))
    try:
        with pytest.raises(AuthError, match="sign in to Microsoft 365 again"):
            await made.check()
    finally:
        await made.aclose()


async def test_a_delegated_account_reaches_me_only(
    connector: M365Connector, double: GraphDouble
) -> None:
    other = add_staff(double)
    with pytest.raises(PermanentError, match="me or me/<calendar id>"):
        await connector.calendar(other).create(spec())
    assert connector.lease_key("me/abc") == connector.lease_key("me") == "mailbox:me"


async def test_an_app_account_has_no_me(double: GraphDouble, table: dict[str, Any]) -> None:
    made = build(Settings.model_validate(table))
    try:
        with pytest.raises(PermanentError, match="name the mailbox"):
            await made.calendar("me").create(spec())
    finally:
        await made.aclose()


async def test_the_calendars_of_a_signed_in_account_to_choose_from(
    double: GraphDouble, connector: M365Connector, staff: str
) -> None:
    shop = double.add_calendar(staff, "Shop")
    found = await connector.list_calendars("me")
    assert found == [
        CalendarChoice("me", "Calendar", None, can_edit=True, is_default=True),
        CalendarChoice(f"me/{shop}", "Shop", None, can_edit=True, is_default=False),
    ]
    await connector.calendar(found[1].calendar_id).create(spec())
    assert [e["calendarId"] for e in double.events(staff)] == [shop]


async def test_the_calendars_of_a_mailbox_for_an_app_account(
    double: GraphDouble, table: dict[str, Any], staff: str
) -> None:
    made = build(Settings.model_validate(table))
    try:
        found = await made.list_calendars(staff)
        with pytest.raises(PermanentError, match="names a calendar"):
            await made.list_calendars(f"{staff}/abc")
    finally:
        await made.aclose()
    assert [(c.calendar_id, c.is_default) for c in found] == [(staff, True)]


async def test_a_signed_in_account_subscribes_to_its_own_events(
    double: GraphDouble, connector: M365Connector, staff: str
) -> None:
    calendar = connector.calendar("me")
    assert isinstance(calendar, M365Calendar)
    with NotificationReceiver() as receiver:
        made = await calendar.change_subscriptions().create(
            Endpoints(receiver.url, receiver.url + "/lifecycle"),
            "a-client-state-for-tests-only-0123456789",
            utcnow() + timedelta(hours=1),
        )
        await calendar.create(spec())
        double.deliver_notifications()
        (change,) = receiver.changes()
    assert change["subscriptionId"] == made.subscription_id
    (shown,) = [s for s in double.subscriptions() if s["id"] == made.subscription_id]
    assert shown["resource"] == "me/events"


class _FailingOnce(HeldCredential):
    def write(self, secret: str) -> None:
        if not self.writes:
            self.writes.append("failed")
            raise OSError("the store is down")
        super().write(secret)


async def test_a_failed_write_back_is_written_with_the_next_token(
    double: GraphDouble, account: Settings, signed_in: Any, caplog: pytest.LogCaptureFixture
) -> None:
    credential = _FailingOnce(signed_in.token_cache)
    made = build_with_credential(account, credential)
    try:
        double.expire_tokens()
        await made.calendar("me").create(spec("b-1"))  # refreshed; the write failed
        assert credential.writes == ["failed"]
        double.expire_tokens()
        await made.calendar("me").create(spec("b-2"))
    finally:
        await made.aclose()
    assert len(credential.writes) == 2
    assert "could not be stored (OSError)" in caplog.text
    assert signed_in.user not in caplog.text
    assert credential.secret == credential.writes[-1]
    assert refresh_tokens(credential.secret) != refresh_tokens(signed_in.token_cache)


async def test_an_unknown_mailbox_is_not_found_and_another_users_is_refused(
    double: GraphDouble, table: dict[str, Any], connector: M365Connector
) -> None:
    made = build(Settings.model_validate(table))
    double.mailboxes_on_demand = False
    try:
        with pytest.raises(RemoteNotFound, match="no such mailbox"):
            await made.list_calendars("nobody@contoso.test")
    finally:
        double.mailboxes_on_demand = True
        await made.aclose()
    with pytest.raises(PermanentError, match="own calendars only"):
        await connector.list_calendars(add_staff(double))
    assert isinstance(connector.calendar(add_staff(double)), InvalidCalendar)
