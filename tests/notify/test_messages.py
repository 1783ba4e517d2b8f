"""What customers, staff and the merchant receive, parsed from a real SMTP server."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from syncd.runtime import Runtime
from syncd.store.models import Booking
from syncd.store.session import SyncdSession
from syncd.wiring import TRANSACTION_HOOKS, build_runtime
from tests.notify import shop
from tests.notify.smtp_sink import Received, SmtpSink
from tests.notify.support import (
    SenderThread,
    calendar_of,
    event_of,
    outbox_rows,
    part,
    text_of,
)


def deliver(runtime: Runtime, sink: SmtpSink, count: int) -> list[Received]:
    with SenderThread(runtime):
        return sink.wait_for(count)


def to(received: list[Received], address: str) -> list[Received]:
    return [r for r in received if r.rcpt_tos == [address]]


def only(received: list[Received], address: str) -> Received:
    (found,) = to(received, address)
    return found


def test_confirmation_carries_the_booking_and_an_invitation(
    runtime: Runtime, sink: SmtpSink
) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session)
        uid = shop.book(session, "b1").uid
    received = deliver(runtime, sink, 3)
    mail = only(received, shop.CUSTOMER)
    message = mail.message
    assert mail.mail_from == "bookings@syncd.example"
    assert message["From"] == "Salon One <bookings@syncd.example>"
    assert message["To"] == "Jane Customer <jane@example.com>"
    assert message["Subject"] == "Booking confirmed: Haircut, Mon 4 Mar 2030, 10:00"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].strip() == next(
        row.message_id for row in outbox_rows(runtime) if row.to_address == shop.CUSTOMER
    )
    assert message.get_content_type() == "multipart/mixed"
    alternative = part(message, "multipart/alternative")
    assert [p.get_content_type() for p in alternative.iter_parts()] == [
        "text/plain", "text/html", "text/calendar",
    ]
    assert part(message, "text/calendar").get_param("method") == "REQUEST"
    for content_type in ("text/plain", "text/html"):
        assert part(message, content_type)["Content-Transfer-Encoding"] == "quoted-printable"
        assert part(message, content_type).get_content_charset() == "utf-8"
    text = text_of(message)
    assert "Monday, 4 March 2030, 10:00\N{EN DASH}10:30 CET (Europe/Paris)" in text
    assert "Main Street 1" in text
    assert "Call us on 030 123456." in text_of(message, "text/html")
    event = event_of(calendar_of(message))
    assert str(event["UID"]) == uid
    assert int(event["SEQUENCE"]) == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event.decoded("DTSTART") == shop.START
    assert event.decoded("DTEND") == shop.START + timedelta(minutes=30)
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert str(event["ORGANIZER"]) == "mailto:bookings@syncd.example"
    assert str(event["ATTENDEE"]) == "mailto:jane@example.com"
    assert [tz["TZID"] for tz in calendar_of(message).walk("VTIMEZONE")] == ["Europe/Paris"]


def test_staff_and_merchant_are_told_in_their_own_time_zones(
    runtime: Runtime, sink: SmtpSink
) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session)
        shop.book(session, "b1", staff="bob")
    received = deliver(runtime, sink, 3)
    staff_notice = only(received, "bob@salon.example").message
    assert staff_notice["Subject"] == (
        "New booking: Haircut, Mon 4 Mar 2030, 04:00, Jane Customer"
    )
    assert "Monday, 4 March 2030, 04:00\N{EN DASH}04:30 EST (America/New_York)" in text_of(
        staff_notice
    )
    assert "jane@example.com" in text_of(staff_notice)
    owner = only(received, shop.OWNER).message
    assert "10:00\N{EN DASH}10:30 CET (Europe/Berlin)" in text_of(owner)
    for notice in (staff_notice, owner):
        assert notice.get_content_type() == "multipart/alternative"
        assert not [p for p in notice.walk() if p.get_content_type() == "text/calendar"]


def sequence_applied(calendars: list[Received]) -> dict[str, tuple[int, str, datetime]]:
    """What a calendar client keeps: per UID, the event with the highest SEQUENCE."""
    kept: dict[str, tuple[int, str, datetime]] = {}
    for mail in calendars:
        calendar = calendar_of(mail.message)
        event = event_of(calendar)
        uid, sequence = str(event["UID"]), int(event["SEQUENCE"])
        if uid not in kept or sequence > kept[uid][0]:
            state = "removed" if str(calendar["METHOD"]) == "CANCEL" else "shown"
            kept[uid] = (sequence, state, event.decoded("DTSTART"))
    return kept


def test_reschedule_and_cancel_update_the_same_event(runtime: Runtime, sink: SmtpSink) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session)
        uid = shop.book(session, "b1").uid
    with runtime.sessions.begin() as session:
        shop.book(session, "b1", start=shop.later(26))
    with runtime.sessions.begin() as session:
        shop.cancel(session, "b1")
    received = deliver(runtime, sink, 9)
    customer = to(received, shop.CUSTOMER)
    methods = [str(calendar_of(m.message)["METHOD"]) for m in customer]
    assert methods == ["REQUEST", "REQUEST", "CANCEL"]
    events = [event_of(calendar_of(m.message)) for m in customer]
    assert {str(e["UID"]) for e in events} == {uid}
    assert [int(e["SEQUENCE"]) for e in events] == [0, 1, 2]
    assert events[1].decoded("DTSTART") == shop.later(26)
    assert str(events[2]["STATUS"]) == "CANCELLED"
    moved = text_of(customer[1].message)
    assert "Tuesday, 5 March 2030, 12:00\N{EN DASH}12:30 CET (Europe/Paris)" in moved
    assert "It was: Monday, 4 March 2030, 10:00" in moved
    # Delivered in any order, a client ends with the one event, removed.
    assert sequence_applied(list(reversed(customer))) == {uid: (2, "removed", shop.later(26))}


def test_a_pending_booking_is_held_tentatively_until_approved(
    runtime: Runtime, sink: SmtpSink
) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session, approval=True)
        shop.book(session, "b1")
    with runtime.sessions.begin() as session:
        shop.book(session, "b1", status="confirmed")
    customer = to(deliver(runtime, sink, 4), shop.CUSTOMER)
    assert [m.message["Subject"].split(":")[0] for m in customer] == [
        "Booking request received", "Booking confirmed",
    ]
    statuses = [str(event_of(calendar_of(m.message))["STATUS"]) for m in customer]
    assert statuses == ["TENTATIVE", "CONFIRMED"]


def test_a_name_with_line_breaks_cannot_add_headers_or_recipients(
    runtime: Runtime, sink: SmtpSink
) -> None:
    from syncd.store.bookings import change_booking
    from syncd.store.changes import Actor

    hostile = "Jörg\r\nBcc: evil@example.org\r\nSubject: free money"
    with runtime.sessions.begin() as session:
        shop.seed(session)
        booking = shop.book(session, "b1")
        # a store path that skips the API's checks, as old data or an import might
        change_booking(session, booking, {"customer_name": hostile}, Actor.MERCHANT)
        change_booking(session, booking, {"start": shop.later(1), "end": shop.later(1.5)},
                       Actor.MERCHANT)
    received = deliver(runtime, sink, 6)
    assert all(r.rcpt_tos[0].endswith(("salon.example", "example.com")) for r in received)
    for mail in received:
        message = mail.message
        assert message["Bcc"] is None
        assert len(message.get_all("Subject") or []) == 1
        assert not message.defects
    moved = to(received, shop.CUSTOMER)[-1].message
    (recipient,) = moved["To"].addresses
    assert recipient.display_name == "Jörg Bcc: evil@example.org Subject: free money"
    assert recipient.addr_spec == shop.CUSTOMER
    assert b"=?utf-8?" in to(received, shop.CUSTOMER)[-1].raw  # encoded, not raw 8-bit
    notice = to(received, "alice@salon.example")[-1].message
    assert "\n" not in str(notice["Subject"])
    attendee = event_of(calendar_of(moved))["ATTENDEE"]
    assert attendee.params["CN"] == "Jörg Bcc: evil@example.org Subject: free money"


def _managed_only(session: SyncdSession, booking: Booking) -> str | None:
    return f"https://salon.example/manage/{booking.key}" if booking.key == "managed" else None


def test_manage_button_appears_only_when_managing_is_allowed(
    runtime: Runtime, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.sessions.configure(hooks=replace(TRANSACTION_HOOKS, manage_link=_managed_only))
    with runtime.sessions.begin() as session:
        shop.seed(session)
        shop.book(session, "managed")
        shop.book(session, "other", start=shop.later(2))
    customer = to(deliver(runtime, sink, 6), shop.CUSTOMER)
    by_key = {m.message["Subject"]: m.message for m in customer}
    managed = next(m for s, m in by_key.items() if "10:00" in s)
    other = next(m for s, m in by_key.items() if "12:00" in s)
    assert 'href="https://salon.example/manage/managed"' in text_of(managed, "text/html")
    assert "Manage your booking" in text_of(managed, "text/html")
    assert "Call us on 030 123456." not in text_of(managed)
    assert "Manage your booking" not in text_of(other, "text/html")
    assert "Call us on 030 123456." in text_of(other)


def test_cancelling_a_paid_booking_says_refunds_are_the_merchants(
    runtime: Runtime, sink: SmtpSink
) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session)
        shop.book(session, "paid", paid=True)
        shop.book(session, "free", start=shop.later(3))
    with runtime.sessions.begin() as session:
        shop.cancel(session, "paid")
        shop.cancel(session, "free")
    customer = to(deliver(runtime, sink, 12), shop.CUSTOMER)
    cancellations = [m.message for m in customer if "cancelled" in m.message["Subject"]]
    refunds = ["handles any refund" in text_of(m) for m in cancellations]
    assert sorted(refunds) == [False, True]


def test_a_merchant_template_replaces_the_built_in_one(
    database_url: str, sink: SmtpSink, tmp_path: object
) -> None:
    from pathlib import Path

    from syncd.store.schema import upgrade
    from tests.notify.support import mail_settings, smtp_mail

    assert isinstance(tmp_path, Path)
    (tmp_path / "templates" / shop.MERCHANT).mkdir(parents=True)
    (tmp_path / "templates" / shop.MERCHANT / "confirmation.txt").write_text(
        '{% extends "base.txt" %}{% block subject %}See you, {{ recipient.name }}!{% endblock %}'
        "{% block body %}Our own words: {{ when }}{% endblock %}"
    )
    settings = mail_settings(
        database_url, smtp_mail(sink.port, templates_dir=str(tmp_path / "templates"))
    )
    runtime = build_runtime(settings)
    try:
        upgrade(runtime.engine)
        with runtime.sessions.begin() as session:
            shop.seed(session)
            shop.book(session, "b1")
        message = only(deliver(runtime, sink, 3), shop.CUSTOMER).message
    finally:
        runtime.close()
    assert message["Subject"] == "See you, Jane Customer!"
    assert text_of(message).startswith("Our own words: Monday, 4 March 2030")
    assert "your booking with Salon One is" in text_of(message, "text/html")  # built in


def test_an_invitation_carries_no_raw_line_separator_or_control_character(
    runtime: Runtime, sink: SmtpSink
) -> None:
    from syncd.store.models import Service

    with runtime.sessions.begin() as session:
        shop.seed(session)
        # a store path that skips the API's checks, as old data or an import might
        service = session.query(Service).filter_by(key="cut").one()
        service.name = "Cut\u2028RRULE:FREQ=MINUTELY"
        service.location = "Main\u2029Street\x85 1\x07"
        shop.book(session, "b1")
    mail = only(deliver(runtime, sink, 3), shop.CUSTOMER)
    raw = str(part(mail.message, "text/calendar").get_content())
    for forbidden in ("\u2028", "\u2029", "\x85", "\x07"):
        assert forbidden not in raw
    event = event_of(calendar_of(mail.message))
    assert "RRULE" not in event
    assert str(event["SUMMARY"]).startswith("Cut\nRRULE:FREQ=MINUTELY at ")
    assert str(event["LOCATION"]) == "Main\nStreet\n 1"
