"""CalDAV error mapping: every failure leaves the connector as one of syncd's errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from connectors.base import RemoteRef
from connectors.caldav import Settings, build
from connectors.retry_after import retry_after_seconds
from syncd.errors import (
    AuthError,
    FailureScope,
    PermanentError,
    PreconditionFailed,
    RemoteNotFound,
    TransientError,
    UidInUse,
)
from tests.contract.harness import MOCK_PASSWORD, Handler, mocked_calendar, unique_name
from tests.contract.suite import MONDAY_10, spec
from tests.servers import DavServer, RadicaleServer, XandikosServer

pytestmark = pytest.mark.anyio


def answering(status: int, **headers: str) -> Handler:
    return lambda request: httpx.Response(status, headers=headers)


def raising(error: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("boom", request=request)

    return handler


# -- status codes --------------------------------------------------------------


async def test_429_carries_fractional_retry_after_and_pauses_the_calendar() -> None:
    calendar = mocked_calendar(answering(429, **{"Retry-After": "1.5"}))
    with pytest.raises(TransientError) as caught:
        await calendar.create(spec())
    assert (caught.value.retry_after, caught.value.scope) == (1.5, FailureScope.CALENDAR)


async def test_503_with_an_http_date_retry_after() -> None:
    later = datetime.now(UTC) + timedelta(seconds=120)
    calendar = mocked_calendar(answering(503, **{"Retry-After": _http_date(later)}))
    with pytest.raises(TransientError) as caught:
        await calendar.busy_time(MONDAY_10, MONDAY_10 + timedelta(days=1))
    assert caught.value.scope == FailureScope.CALENDAR
    assert caught.value.retry_after is not None
    assert 100 < caught.value.retry_after <= 120


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_other_5xx_concerns_only_the_item(status: int) -> None:
    with pytest.raises(TransientError) as caught:
        await mocked_calendar(answering(status)).create(spec())
    assert (caught.value.retry_after, caught.value.scope) == (None, FailureScope.ITEM)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthError),
        (403, PermanentError),
        (404, RemoteNotFound),
        (410, RemoteNotFound),
        (400, PermanentError),
        (415, PermanentError),
        (301, PermanentError),
    ],
)
async def test_client_errors(status: int, error: type[Exception]) -> None:
    calendar = mocked_calendar(answering(status))
    with pytest.raises(error):
        await calendar.delete(RemoteRef("/alice/work/b-1.ics", '"1"'))


CYRUS_UID_REFUSAL = (
    '<?xml version="1.0" encoding="utf-8"?><D:error xmlns:D="DAV:" '
    'xmlns:C="urn:ietf:params:xml:ns:caldav"><C:unique-scheduling-object-resource>'
    "<D:href>/dav/calendars/user/alice/home/b-1.ics</D:href>"
    "</C:unique-scheduling-object-resource></D:error>"
)
RFC_UID_REFUSAL = (
    '<D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><C:no-uid-conflict>'
    "<D:href>http://dav.test/alice/work/client.ics</D:href></C:no-uid-conflict></D:error>"
)


@pytest.mark.parametrize(
    ("status", "body", "holder"),
    [
        (403, CYRUS_UID_REFUSAL, "/dav/calendars/user/alice/home/b-1.ics"),
        (403, RFC_UID_REFUSAL, "/alice/work/client.ics"),
        (409, "C:no-uid-conflict", None),  # Radicale: no XML, no href
    ],
)
async def test_a_create_refused_for_its_uid_names_the_holder(
    status: int, body: str, holder: str | None
) -> None:
    calendar = mocked_calendar(lambda request: httpx.Response(status, text=body))
    with pytest.raises(UidInUse) as refused:
        await calendar.create(spec())
    assert refused.value.holder == holder


async def test_busy_time_raises_rather_than_report_free_time() -> None:
    calendar = mocked_calendar(answering(500))
    with pytest.raises(TransientError):
        await calendar.busy_time(MONDAY_10, MONDAY_10 + timedelta(days=1))


async def test_messages_carry_neither_password_nor_body() -> None:
    calendar = mocked_calendar(answering(400))
    with pytest.raises(PermanentError) as caught:
        await calendar.create(spec(summary="Private: root canal", description="x-ray"))
    message = str(caught.value)
    assert "PUT /alice/work/b-1.ics" in message
    assert MOCK_PASSWORD not in message
    assert "root canal" not in message


async def test_412_on_a_write_to_a_missing_object_is_not_found() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(412 if request.method == "PUT" else 404)

    with pytest.raises(RemoteNotFound):
        await mocked_calendar(server).update(RemoteRef("/alice/work/b-1.ics", '"1"'), spec())


async def test_412_on_a_write_to_a_changed_object_stays_precondition_failed() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(412)
        return httpx.Response(207, content=_etag_multistatus(request.url.path, '"2"'))

    with pytest.raises(PreconditionFailed):
        await mocked_calendar(server).update(RemoteRef("/alice/work/b-1.ics", '"1"'), spec())


# -- transport failures ----------------------------------------------------------


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout])
async def test_an_unreachable_server_pauses_the_calendar(
    error: type[httpx.TransportError],
) -> None:
    with pytest.raises(TransientError) as caught:
        await mocked_calendar(raising(error)).find_by_booking("b-1")
    assert caught.value.scope == FailureScope.CALENDAR


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError]
)
async def test_a_request_cut_short_concerns_only_its_item(
    error: type[httpx.TransportError],
) -> None:
    with pytest.raises(TransientError) as caught:
        await mocked_calendar(raising(error)).find_by_booking("b-1")
    assert caught.value.scope == FailureScope.ITEM


# -- real servers ------------------------------------------------------------------


@pytest.mark.parametrize("server_name", ["radicale", "xandikos"])
async def test_wrong_password_is_auth_error(
    server_name: str, request: pytest.FixtureRequest
) -> None:
    server: DavServer = request.getfixturevalue(server_name)
    collection = server.create_collection(unique_name())
    password_file = server.data_dir / f"wrong-{unique_name()}"
    password_file.write_text("not-the-password")
    connector = build(
        Settings.model_validate(server.connector_settings(password_file=str(password_file)))
    )
    try:
        with pytest.raises(AuthError) as caught:
            await connector.calendar(collection).create(spec())
        assert "not-the-password" not in str(caught.value)
    finally:
        await connector.aclose()


async def test_untrusted_certificate_is_permanent(xandikos: XandikosServer) -> None:
    connector = build(Settings.model_validate(xandikos.connector_settings(ca_file=None)))
    try:
        with pytest.raises(PermanentError, match="certificate"):
            await connector.calendar(xandikos.collection_path("calendar")).find_by_booking("b")
    finally:
        await connector.aclose()


async def test_stopped_server_is_transient_for_the_calendar_until_it_is_back(
    own_radicale: RadicaleServer,
) -> None:
    server = own_radicale  # stopped and started again: the test's own
    collection = server.create_collection("work")
    connector = build(Settings.model_validate(server.connector_settings()))
    calendar = connector.calendar(collection)
    try:
        await calendar.create(spec("before"))
        server.stop()
        with pytest.raises(TransientError) as caught:
            await calendar.create(spec("during"))
        assert caught.value.scope == FailureScope.CALENDAR
        server.start()
        await calendar.create(spec("after"))
        assert await calendar.find_by_booking("before") is not None
    finally:
        await connector.aclose()


# -- Retry-After parsing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("1.5", 1.5), ("120", 120.0), ("0", 0.0), ("-3", 0.0), ("soon", None), ("nan", None),
     (None, None), ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0)],
)
def test_retry_after_seconds(header: str | None, seconds: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)
    assert retry_after_seconds(header, now) == seconds


def _http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _etag_multistatus(href: str, etag: str) -> bytes:
    return (
        '<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"><D:response>'
        f"<D:href>{href}</D:href><D:propstat><D:prop><D:getetag>{etag}</D:getetag></D:prop>"
        "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"
    ).encode()
