"""CalDAV behaviour beyond the contract, on real servers: what is stored, lookups, zones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import icalendar
import pytest

from connectors.base import EventStatus, same_etag
from connectors.caldav import CalDAVConnector, Settings, build
from syncd.errors import PreconditionFailed, UidInUse
from tests.contract.harness import (
    BERLIN_VTIMEZONE,
    DavHarness,
    mocked_calendar,
    unique_name,
    wrap_vevent,
)
from tests.contract.suite import HOUR, MONDAY_10, spec
from tests.server_families import FAMILIES, Family
from tests.servers import DavServer

pytestmark = pytest.mark.anyio
XML_ANSWER = {"Content-Type": "application/xml; charset=utf-8"}  # what CalDAV servers send


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> Family:
    return FAMILIES[request.param]


@pytest.fixture
def server(request: pytest.FixtureRequest, family: Family) -> DavServer:
    server: DavServer = request.getfixturevalue(family.name)
    # On Cyrus the UIDs of earlier tests are in the same calendar home: a user of its own.
    return server.fresh_account() if family.capabilities.home_wide_uids else server


@pytest.fixture
async def connector(server: DavServer) -> AsyncIterator[CalDAVConnector]:
    connector = build(Settings.model_validate(server.connector_settings()))
    yield connector
    await connector.aclose()


@pytest.fixture
def harness(server: DavServer, connector: CalDAVConnector, family: Family) -> DavHarness:
    collection = server.create_collection(unique_name())
    return DavHarness(connector.calendar(collection), server, collection, family.capabilities)


def stored_vevent(server: DavServer, href: str) -> tuple[icalendar.Calendar, icalendar.Event]:
    with server.http_client() as client:
        response = client.get(href)
    response.raise_for_status()
    calendar = icalendar.Calendar.from_ical(response.content)
    return calendar, calendar.events[0]


async def test_stored_object_is_a_complete_vcalendar(harness: DavHarness) -> None:
    event = spec(
        status=EventStatus.TENTATIVE, sequence=3,
        description="Bitte 10 Minuten früher kommen,\nDanke; Grüße",
        location="Salon Süd, Hauptstraße 5",
    )
    ref = await harness.calendar.create(event)
    calendar, vevent = stored_vevent(harness.server, ref.remote_id)
    assert ref.remote_id == f"{harness.collection}b-1.ics"
    assert (str(calendar["PRODID"]), str(calendar["VERSION"])) == ("-//syncd//syncd//EN", "2.0")
    assert "METHOD" not in calendar
    assert [str(tz["TZID"]) for tz in calendar.timezones] == ["Europe/Berlin"]
    assert vevent["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert (str(vevent["UID"]), str(vevent["X-SYNCD-BOOKING"])) == ("b-1", "b-1")
    assert (vevent["SEQUENCE"], str(vevent["STATUS"]), str(vevent["TRANSP"])) == (
        3, "TENTATIVE", "OPAQUE",
    )
    assert str(vevent["DESCRIPTION"]) == event.description
    assert str(vevent["LOCATION"]) == event.location
    assert (vevent.start, vevent.end) == (event.start, event.end)


async def test_create_returns_the_servers_etag(harness: DavHarness) -> None:
    ref = await harness.calendar.create(spec())
    with harness.server.http_client() as client:
        assert same_etag(client.get(ref.remote_id).headers["ETag"], ref.etag)


async def test_find_falls_back_to_the_uid_when_stored_under_another_name(
    harness: DavHarness,
) -> None:
    other_lines = (
        "UID:b-10\nDTSTAMP:20260101T000000Z\nDTSTART:20260302T120000Z\nDTEND:20260302T130000Z\n"
    )
    await harness.put_raw("b-10-moved.ics", wrap_vevent(other_lines + "SUMMARY:not it"))
    lines = "UID:b-1\nDTSTAMP:20260101T000000Z\nDTSTART:20260302T090000Z\n"
    href = await harness.put_raw("Ab12-client-name.ics", wrap_vevent(
        lines + "DTEND:20260302T100000Z\nSUMMARY:moved by a client"
    ))
    found = await harness.calendar.find_by_booking("b-1")
    assert found is not None
    assert (found.ref.remote_id, found.summary, found.booking_key) == (
        href, "moved by a client", "b-1",
    )
    new_ref = await harness.calendar.update(found.ref, spec(summary="rescheduled"))
    assert new_ref.remote_id == href
    assert str(stored_vevent(harness.server, href)[1]["SUMMARY"]) == "rescheduled"


async def test_create_fails_when_another_object_has_the_bookings_uid(
    harness: DavHarness,
) -> None:
    lines = "UID:b-1\nDTSTAMP:20260101T000000Z\nDTSTART:20260302T090000Z\nSUMMARY:older"
    href = await harness.put_raw("older-name.ics", wrap_vevent(lines + "\nDTEND:20260302T100000Z"))
    if not harness.capabilities.refuses_duplicate_uid:
        # DAViCal takes a second object with the UID: syncd lists before it creates.
        await harness.calendar.create(spec())
        assert set(await harness.calendar.booking_events()) == {"b-1"}
        return
    with pytest.raises(PreconditionFailed) as refused:  # Xandikos: a plain 412
        await harness.calendar.create(spec())
    if isinstance(refused.value, UidInUse):  # Cyrus names the holder, Radicale does not
        assert refused.value.holder in (href, None)
    found = await harness.calendar.find_by_booking("b-1")
    assert found is not None
    assert (found.ref.remote_id, found.summary) == (href, "older")


async def test_booking_events_finds_events_by_uid_and_by_tag(harness: DavHarness) -> None:
    own = await harness.calendar.create(spec("b-1"))
    lines = (
        "UID:client-made\nDTSTAMP:20260101T000000Z\nDTSTART:20260302T120000Z\n"
        "DTEND:20260302T130000Z"
    )
    foreign = await harness.put_raw("client-made.ics", wrap_vevent(lines))
    found = await harness.calendar.booking_events()
    assert found["b-1"].same_version(own)
    assert found["client-made"].remote_id == foreign


async def test_an_ambiguous_wall_time_is_written_in_utc(harness: DavHarness) -> None:
    # 00:30-01:30 UTC on 2026-10-25: 02:30 CEST to 02:30 CET in Berlin, the hour told twice.
    start = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    ref = await harness.calendar.create(spec(start=start, end=start + HOUR))
    _, vevent = stored_vevent(harness.server, ref.remote_id)
    assert (vevent.decoded("DTSTART"), vevent.decoded("DTEND")) == (start, start + HOUR)
    assert all(vevent[name].params.get("TZID") is None for name in ("DTSTART", "DTEND"))
    found = await harness.calendar.find_by_booking("b-1")
    assert found is not None
    assert (found.start, found.end) == (start, start + HOUR)


async def test_a_plain_wall_time_keeps_the_staff_zone(harness: DavHarness) -> None:
    ref = await harness.calendar.create(spec())
    _, vevent = stored_vevent(harness.server, ref.remote_id)
    assert vevent["DTSTART"].params.get("TZID") == "Europe/Berlin"


async def test_busy_time_skips_cancelled_events(harness: DavHarness) -> None:
    lines = "UID:x\nDTSTAMP:20260101T000000Z\nDTSTART:20260302T090000Z\nDTEND:20260302T100000Z"
    await harness.put_raw("cancelled.ics", wrap_vevent(lines + "\nSTATUS:CANCELLED"))
    assert await harness.calendar.busy_time(MONDAY_10 - HOUR, MONDAY_10 + HOUR) == []


async def test_all_day_events_are_busy_in_the_calendars_zone(harness: DavHarness) -> None:
    set_calendar_timezone(harness, BERLIN_VTIMEZONE)
    lines = "UID:holiday\nDTSTAMP:20260101T000000Z\nSUMMARY:Holiday\n"
    await harness.put_raw("holiday.ics", wrap_vevent(
        lines + "DTSTART;VALUE=DATE:20260305\nDTEND;VALUE=DATE:20260306"
    ))
    day = datetime(2026, 3, 5, tzinfo=UTC)
    busy = await harness.calendar.busy_time(day - timedelta(days=1), day + timedelta(days=1))
    assert [(i.start, i.end) for i in busy] == [(day - HOUR, day + timedelta(hours=23))]


async def test_all_day_events_without_a_calendar_zone_are_read_in_utc(
    harness: DavHarness,
) -> None:
    lines = "UID:holiday\nDTSTAMP:20260101T000000Z\nDTSTART;VALUE=DATE:20260305\n"
    await harness.put_raw("holiday.ics", wrap_vevent(lines + "SUMMARY:Holiday"))
    day = datetime(2026, 3, 5, tzinfo=UTC)
    busy = await harness.calendar.busy_time(day, day + timedelta(days=2))
    assert [(i.start, i.end) for i in busy] == [(day, day + timedelta(days=1))]


async def test_make_calendar_creates_once_and_accepts_an_existing_one(
    server: DavServer, connector: CalDAVConnector
) -> None:
    path = server.collection_path(unique_name())
    await connector.make_calendar(path, "Salon & Spa — Süd")
    await connector.make_calendar(path, "Salon & Spa — Süd")
    await connector.calendar(path).create(spec())
    assert await connector.calendar(path).find_by_booking("b-1") is not None


async def test_busy_time_expands_series_itself_and_never_asks_the_server_to() -> None:
    weekly = wrap_vevent(
        "UID:w\nDTSTAMP:20260101T000000Z\nDTSTART:20260302T090000Z\nDURATION:PT1H\n"
        "RRULE:FREQ=WEEKLY"
    )
    multistatus = (
        '<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><response>'
        "<href>/alice/work/w.ics</href><propstat><prop><getetag>\"1\"</getetag>"
        f"<C:calendar-data>{weekly}</C:calendar-data></prop>"
        "<status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"
    )
    asked: list[bytes] = []

    def server(request: httpx.Request) -> httpx.Response:
        asked.append(request.content)
        return httpx.Response(207, text=multistatus, headers=XML_ANSWER)

    busy = await mocked_calendar(server).busy_time(MONDAY_10, MONDAY_10 + timedelta(days=14))
    assert [i.start for i in busy] == [MONDAY_10 + timedelta(days=d) for d in (0, 7)]
    assert all(b"expand" not in body for body in asked)


async def test_etag_is_fetched_when_the_put_response_has_none() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(201)
        multistatus = (
            '<multistatus xmlns="DAV:"><response><href>/alice/work/b-1.ics</href>'
            '<propstat><prop><getetag>"7"</getetag></prop>'
            "<status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"
        )
        return httpx.Response(207, text=multistatus, headers=XML_ANSWER)

    ref = await mocked_calendar(server).create(spec())
    assert (ref.remote_id, ref.etag) == ("/alice/work/b-1.ics", '"7"')


def set_calendar_timezone(harness: DavHarness, vtimezone: str) -> None:
    calendar_data = wrap_vevent("UID:unused", vtimezone).split("BEGIN:VEVENT")[0]
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f"<D:set><D:prop><C:calendar-timezone>{calendar_data}END:VCALENDAR\r\n"
        "</C:calendar-timezone></D:prop></D:set></D:propertyupdate>"
    )
    with harness.server.http_client() as client:
        response = client.request(
            "PROPPATCH", harness.collection, content=body.encode(),
            headers={"Content-Type": "application/xml; charset=utf-8"},
        )
    assert response.status_code == 207, response.text
    assert "200 OK" in response.text, response.text
