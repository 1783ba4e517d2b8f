"""The merchant told of events set apart as unreadable, on a real Radicale: one mail naming
the events of a pass, none again for the same version of them, a new one when an event is
changed to another unreadable form, none once it is readable; and one webhook event."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from syncd.config import MailSettings
from syncd.notify.preferences import put_staff_settings
from syncd.notify.schemas import NoticeEvents, StaffNotificationsIn
from syncd.store.models import Staff
from syncd.webhooks.models import WebhookDelivery
from tests.notify.smtp_sink import Received, SmtpSink
from tests.notify.support import (
    FAST_MAIL,
    SenderThread,
    all_settled,
    smtp_mail,
    text_of,
    wait_until,
)
from tests.reconcile.hands import DavHands
from tests.reconcile.shop import HOUR, OWNER, START, Shop, migrated, settings_for
from tests.reconcile.test_hostile_events import put_foreign
from tests.servers import RadicaleServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]
KIND = "unreadable_notice"
FIRST = START - 24 * HOUR
TIMES = f"DTSTART:{FIRST:%Y%m%dT%H%M%SZ}\nDTEND:{FIRST + timedelta(seconds=1):%Y%m%dT%H%M%SZ}\n"
# a bell and a line separator, which a mail must not carry
ENDLESS = TIMES + "SUMMARY:Gym\x07 every\u2028second\nRRULE:FREQ=SECONDLY"
ANCIENT = "DTSTART:00010101T003000Z\nDTEND:00010101T013000Z\nSUMMARY:Founding day"


@pytest.fixture
async def dav(radicale: RadicaleServer) -> AsyncIterator[DavHands]:
    hands = DavHands(radicale)
    yield hands
    await hands.aclose()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
def shop(database_url: str, dav: DavHands, sink: SmtpSink) -> Iterator[Shop]:
    settings = settings_for(database_url, dav)
    mail = MailSettings.model_validate(FAST_MAIL | smtp_mail(sink.port))
    runtime = migrated(settings.model_copy(update={"mail": mail}))
    yield Shop(runtime, dav, dav.new_calendar())
    runtime.close()


def staff_opts_out(shop: Shop) -> None:
    with shop.runtime.sessions.begin() as session:
        alice = session.scalars(select(Staff).where(Staff.key == "alice")).one()
        events = NoticeEvents(unreadable=False)
        put_staff_settings(session, alice, StaffNotificationsIn(events=events))


def notices(shop: Shop) -> list[tuple[str, str]]:
    return [message for message in shop.messages() if message[0] == KIND]


def delivered(shop: Shop, sink: SmtpSink) -> list[Received]:
    """The notices that reached the SMTP server once the sender has sent what is queued."""
    with SenderThread(shop.runtime):
        wait_until(lambda: all_settled(shop.runtime), what="the outbox sent")
    return [m for m in sink.messages() if "set apart" in str(m.message["Subject"])]


def unreadable_webhooks(shop: Shop) -> list[dict[str, Any]]:
    with shop.runtime.sessions.begin() as session:
        bodies = session.scalars(select(WebhookDelivery.body).where(
            WebhookDelivery.event_type == "calendar.event_unreadable"))
        return [json.loads(body)["data"] for body in bodies]


async def test_the_merchant_is_told_once_of_each_version_of_an_unreadable_event(
    shop: Shop, sink: SmtpSink
) -> None:
    shop.seed("booking_wins")
    staff_opts_out(shop)
    await shop.settle()
    endless = await put_foreign(shop, "every-second", ENDLESS)
    ancient = await put_foreign(shop, "ancient", ANCIENT)
    await shop.watch_again()

    assert notices(shop) == [(KIND, "merchant")]
    (mail,) = delivered(shop, sink)
    assert mail.rcpt_tos == [OWNER]
    body = text_of(mail.message)
    for named in ("Gym every second", "every-second", endless, "recurs too often",
                  "Founding day", "ancient", ancient, "outside 1970-2200",
                  "busy time is not counted", "ignores them until they are changed"):
        assert named in body, named
    assert "\x07" not in mail.raw.decode()
    assert "\u2028" not in body
    listed = {e["event"]: e for e in shop.state().unreadable or []}
    assert (listed[ancient]["uid"], listed[ancient]["summary"]) == ("ancient", "Founding day")
    assert listed[endless]["summary"] == "Gym every second"
    (hook,) = unreadable_webhooks(shop)
    assert {e["href"] for e in hook["events"]} == {endless, ancient}

    await shop.watch_again()
    assert len(notices(shop)) == 1, "told again of the same events"

    await put_foreign(shop, "every-second", TIMES + "SUMMARY:Gym\nRRULE:FREQ=MINUTELY")
    await shop.watch_again()
    assert len(notices(shop)) == 2
    (_, again) = delivered(shop, sink)
    assert str(again.message["Subject"]) == "Calendar event set apart: Gym"
    told = text_of(again.message)
    assert endless in told
    assert ancient not in told

    await put_foreign(shop, "every-second", TIMES + "SUMMARY:Gym\nRRULE:FREQ=DAILY;COUNT=3")
    await shop.watch_again()
    assert len(notices(shop)) == 2, "told of a readable event"
    assert [e["event"] for e in shop.state().unreadable or []] == [ancient]
    assert len(unreadable_webhooks(shop)) == 2


async def test_the_staff_member_is_told_too_unless_they_opted_out(shop: Shop) -> None:
    shop.seed("booking_wins")
    await shop.settle()
    await put_foreign(shop, "ancient", ANCIENT)
    await shop.watch_again()
    assert sorted(notices(shop)) == [(KIND, "merchant"), (KIND, "staff")]
