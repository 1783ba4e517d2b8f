"""Subscriptions on a mailbox's events, against the Graph double and a notification receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.m365 import M365Connector
from connectors.m365.calendar import M365Calendar
from connectors.push import Endpoints
from syncd.errors import PermanentError, RemoteNotFound
from syncd.timeutil import utcnow
from tests.graph import GraphDouble
from tests.graph.receiver import NotificationReceiver
from tests.m365.support import m365_connector

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]
SECRET = "a-client-state-for-tests-only-0123456789"


@pytest.fixture
async def connector(double: GraphDouble, tmp_path: Path) -> AsyncIterator[M365Connector]:
    made = m365_connector(double, directory=tmp_path)
    yield made
    await made.aclose()


@pytest.fixture
def calendar(connector: M365Connector, mailbox: str) -> M365Calendar:
    found = connector.calendar(mailbox)
    assert isinstance(found, M365Calendar)
    return found


@pytest.fixture
def receiver() -> Iterator[NotificationReceiver]:
    with NotificationReceiver() as running:
        yield running


def endpoints(receiver: NotificationReceiver) -> Endpoints:
    return Endpoints(receiver.url, receiver.url + "/lifecycle")


def live(double: GraphDouble, subscription_id: str) -> dict[str, object] | None:
    return next((s for s in double.subscriptions() if s["id"] == subscription_id), None)


async def test_a_subscription_is_validated_and_notifies_of_changes(
    double: GraphDouble, calendar: M365Calendar, mailbox: str, receiver: NotificationReceiver
) -> None:
    expires = utcnow() + timedelta(minutes=4200)
    made = await calendar.change_subscriptions().create(endpoints(receiver), SECRET, expires)
    assert abs((made.expires - expires).total_seconds()) < 1
    shown = live(double, made.subscription_id)
    assert shown is not None
    assert (shown["resource"], shown["changeType"]) == (
        f"users/{mailbox}/events", "created,updated,deleted")
    assert len(receiver.validations) == 2  # notification and lifecycle URLs
    double.add_foreign_event(mailbox, "lunch", utcnow() + timedelta(days=1),
                             utcnow() + timedelta(days=1, hours=1))
    double.deliver_notifications()
    (change,) = receiver.changes()
    assert (change["subscriptionId"], change["clientState"]) == (made.subscription_id, SECRET)


async def test_renewal_moves_the_expiry_and_a_lost_one_is_not_found(
    double: GraphDouble, calendar: M365Calendar, receiver: NotificationReceiver
) -> None:
    made = await calendar.change_subscriptions().create(
        endpoints(receiver), SECRET, utcnow() + timedelta(minutes=60))
    later = utcnow() + timedelta(minutes=4000)
    renewed = await calendar.change_subscriptions().renew(made.subscription_id, later)
    assert renewed.subscription_id == made.subscription_id
    assert renewed.expires > made.expires + timedelta(minutes=3000)
    await calendar.change_subscriptions().delete(made.subscription_id)
    assert live(double, made.subscription_id) is None
    with pytest.raises(RemoteNotFound):
        await calendar.change_subscriptions().renew(made.subscription_id, later)
    await calendar.change_subscriptions().delete(made.subscription_id)  # gone already: fine


async def test_a_failed_validation_makes_no_subscription(
    double: GraphDouble, calendar: M365Calendar, receiver: NotificationReceiver
) -> None:
    receiver.validation = "wrong"
    before = len(double.subscriptions())
    with pytest.raises(PermanentError, match="ValidationError"):
        await calendar.change_subscriptions().create(
            endpoints(receiver), SECRET, utcnow() + timedelta(minutes=60))
    assert len(double.subscriptions()) == before


async def test_a_lifetime_beyond_outlooks_limit_is_refused(
    calendar: M365Calendar, receiver: NotificationReceiver
) -> None:
    with pytest.raises(PermanentError):
        await calendar.change_subscriptions().create(
            endpoints(receiver), SECRET, utcnow() + timedelta(days=30))
