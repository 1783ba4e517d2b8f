"""The m365 connector's pieces without a server: settings, event JSON, error mapping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import EventSpec, EventStatus
from connectors.m365 import events
from connectors.m365.calendar import CalendarTarget
from connectors.m365.events import Reminder
from connectors.m365.http import GraphRequest, GraphResponse, error_for
from connectors.m365.settings import Settings, read_credential
from connectors.retry_after import retry_after_seconds
from syncd.errors import (
    AuthError,
    ConfigError,
    FailureScope,
    PermanentError,
    PreconditionFailed,
    RemoteNotFound,
    TransientError,
)

TABLE: dict[str, Any] = {
    "kind": "m365",
    "tenant_id": "contoso.onmicrosoft.com",
    "client_id": "11111111-2222-3333-4444-555555555555",
    "client_secret_env": "SYNCD_TEST_M365_SECRET",
}
SPEC = EventSpec(
    booking_key="syncd-1",
    summary="Haircut: Jürgen",
    start=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    end=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
    timezone="Europe/Berlin",
    sequence=3,
    status=EventStatus.TENTATIVE,
    description="Service: Haircut\nCustomer: Jürgen",
    location="Shop 1",
)


# -- settings ----------------------------------------------------------------


def test_settings_defaults_follow_graph_limits() -> None:
    settings = Settings.model_validate(TABLE)
    assert (settings.requests_per_mailbox, settings.batch_size) == (4, 20)
    assert settings.authority == "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    assert settings.token_scope == "https://graph.microsoft.com/.default"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"client_secret_env": None}, "exactly one"),
        ({"certificate_key_env": "K", "certificate_thumbprint": "A" * 40}, "exactly one"),
        ({"client_secret_file": "/run/s"}, "not both"),
        ({"client_secret_env": None, "certificate_key_env": "K"}, "goes with"),
        ({"client_secret_env": None, "certificate_key_env": "K",
          "certificate_thumbprint": "AB" * 32}, "needs certificate_file"),
        ({"client_secret_env": None, "certificate_key_env": "K",
          "certificate_thumbprint": "AB" * 25}, "SHA-1 or a SHA-256"),
        ({"graph_url": "http://graph.example"}, "https://"),
        ({"requests_per_mailbox": 5}, "less than or equal to 4"),
        ({"batch_size": 21}, "less than or equal to 20"),
        ({"tenant_id": "a/b"}, "pattern"),
    ],
)
def test_settings_refuse_bad_tables(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings.model_validate({**TABLE, **changes})


def test_credential_comes_from_the_environment_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNCD_TEST_M365_SECRET", raising=False)
    with pytest.raises(ConfigError, match="SYNCD_TEST_M365_SECRET is not set"):
        read_credential(Settings.model_validate(TABLE))
    monkeypatch.setenv("SYNCD_TEST_M365_SECRET", "s3cret")
    assert read_credential(Settings.model_validate(TABLE)) == "s3cret"
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n...\n")
    table = {**TABLE, "client_secret_env": None, "certificate_key_file": str(key),
             "certificate_thumbprint": "ab:" * 19 + "cd"}
    credential = read_credential(Settings.model_validate(table))
    assert credential == {"thumbprint": "AB" * 19 + "CD", "private_key": key.read_text().strip()}


# -- calendar ids --------------------------------------------------------------


def test_calendar_ids_name_a_mailbox_and_maybe_a_calendar() -> None:
    default = CalendarTarget.parse("Anna@Contoso.com")
    assert (default.mailbox_key, default.calendar) == ("anna@contoso.com", None)
    assert default.events_path == "/users/Anna@Contoso.com/calendar/events"
    named = CalendarTarget.parse("anna@contoso.com/AAMkAD=")
    assert named.events_path == "/users/anna@contoso.com/calendars/AAMkAD%3D/events"
    calendar_events = "/users/anna@contoso.com/calendars/AAMkAD%3D/events"
    assert named.event_path("AA/B=") == f"{calendar_events}/AA%2FB%3D"
    assert default.delta_path == "/users/Anna@Contoso.com/calendarView/delta"
    for bad in ("", "/cal", "anna@contoso.com/", "anna @contoso.com"):
        with pytest.raises(PermanentError):
            CalendarTarget.parse(bad)


# -- event JSON --------------------------------------------------------------


def test_event_body_is_written_in_the_staff_zone_and_tagged() -> None:
    body = events.event_body(SPEC, Reminder(enabled=True, minutes=10))
    berlin = "W. Europe Standard Time"  # Graph documents Windows names (CLDR's mapping)
    assert body["start"] == {"dateTime": "2026-03-02T10:00:00", "timeZone": berlin}
    assert body["end"] == {"dateTime": "2026-03-02T11:00:00", "timeZone": berlin}
    assert body["showAs"] == "tentative"
    assert (body["isReminderOn"], body["reminderMinutesBeforeStart"]) == (True, 10)
    assert body["singleValueExtendedProperties"] == [
        {"id": events.BOOKING_PROPERTY, "value": "syncd-1"}
    ]
    assert body["location"] == {"displayName": "Shop 1"}


def test_an_ambiguous_wall_time_is_written_in_utc() -> None:
    # 01:15 UTC on 2026-10-25 is 02:15 CET, the second 02:15 of that night in Berlin.
    start = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)
    spec = EventSpec("b", "x", start, start.replace(minute=45), "Europe/Berlin", 0)
    body = events.event_body(spec, Reminder(enabled=False, minutes=0))
    assert body["start"] == {"dateTime": "2026-10-25T01:15:00", "timeZone": "UTC"}


def test_transaction_ids_are_stable_per_calendar_and_booking() -> None:
    first = events.transaction_id("anna@contoso.com", "syncd-1")
    assert first == events.transaction_id("anna@contoso.com", "syncd-1")
    assert first != events.transaction_id("anna@contoso.com/other", "syncd-1")
    assert first != events.transaction_id("anna@contoso.com", "syncd-2")


def graph_json(**changes: Any) -> dict[str, Any]:
    data = {
        "@odata.etag": 'W/"abc"',
        "id": "AAMkAD1=",
        "subject": SPEC.summary,
        "body": {"contentType": "text", "content": SPEC.description.replace("\n", "\r\n")},
        "location": {"displayName": "Shop 1"},
        "start": {"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-02T10:00:00.0000000", "timeZone": "UTC"},
        "showAs": "tentative",
        "isCancelled": False,
        "singleValueExtendedProperties": [
            {"id": events.BOOKING_PROPERTY.replace("String", "string"), "value": "syncd-1"}
        ],
    }
    return {**data, **changes}


def test_graph_json_reads_back_as_the_event_written() -> None:
    event = events.parse_event(graph_json())
    assert (event.ref.remote_id, event.ref.etag, event.booking_key) == (
        "AAMkAD1=", 'W/"abc"', "syncd-1"
    )
    assert (event.start, event.end) == (SPEC.start, SPEC.end)
    assert event.busy
    assert event.shows(SPEC)
    assert not events.parse_event(graph_json(subject="Edited by hand")).shows(SPEC)
    assert not events.parse_event(graph_json(showAs="busy")).shows(SPEC)


def test_times_in_other_zones_are_read_as_instants() -> None:
    windows = {"dateTime": "2026-03-02T10:00:00.0000000", "timeZone": "W. Europe Standard Time"}
    iana = {"dateTime": "2026-03-02T10:00:00", "timeZone": "Europe/Berlin"}
    assert events.parse_time(windows) == events.parse_time(iana) == SPEC.start
    with pytest.raises(PermanentError):
        events.parse_time({"dateTime": "2026-03-02T10:00:00", "timeZone": "Mars/Olympus"})


@pytest.mark.parametrize(
    ("changes", "busy"),
    [
        ({"showAs": "busy"}, True),
        ({"showAs": "oof"}, True),
        ({"showAs": "tentative"}, True),
        ({"showAs": "unknown"}, True),
        ({"showAs": "free"}, False),
        ({"showAs": "workingElsewhere"}, False),
        ({"showAs": "busy", "isCancelled": True}, False),
    ],
)
def test_show_as_decides_busy_time(changes: dict[str, Any], busy: bool) -> None:
    assert (events.busy_interval(graph_json(**changes)) is not None) is busy


# -- error mapping -------------------------------------------------------------

REQUEST = GraphRequest("PATCH", "/users/anna@contoso.com/events/X?$select=subject")


def answer(status: int, code: str | None = None, **headers: str) -> GraphResponse:
    body = {"error": {"code": code, "message": "personal data may be here"}} if code else None
    return GraphResponse(status, {k.replace("_", "-"): v for k, v in headers.items()}, body)


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (404, "ErrorItemNotFound", RemoteNotFound),
        (400, "ErrorInvalidIdMalformed", RemoteNotFound),
        (404, "ErrorInvalidUser", PermanentError),
        (404, "MailboxNotEnabledForRESTAPI", PermanentError),
        (412, "ErrorIrresolvableConflict", PreconditionFailed),
        (409, "ErrorIrresolvableConflict", PreconditionFailed),
        (401, "InvalidAuthenticationToken", AuthError),
        (403, "ErrorAccessDenied", AuthError),
        (403, None, AuthError),
        (400, "ErrorInvalidRequest", PermanentError),
        (410, None, RemoteNotFound),
    ],
)
def test_graph_errors_become_syncd_errors(status: int, code: str | None, error: type) -> None:
    mapped = error_for(answer(status, code), REQUEST)
    assert type(mapped) is error
    assert "personal data" not in str(mapped)
    assert "$select" not in str(mapped)


def test_throttling_keeps_its_retry_after() -> None:
    throttled = error_for(answer(429, "ApplicationThrottled", retry_after="0.25"), REQUEST)
    assert isinstance(throttled, TransientError)
    assert (throttled.retry_after, throttled.scope) == (0.25, FailureScope.CALENDAR)
    failed = error_for(answer(500, "InternalServerError"), REQUEST)
    assert isinstance(failed, TransientError)
    assert failed.scope == FailureScope.ITEM


def test_retry_after_takes_fractions_and_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("1.5") == 1.5
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-3") == 0


@pytest.mark.parametrize(
    ("zone", "windows"),
    [
        ("Europe/Vienna", "W. Europe Standard Time"),
        ("Asia/Calcutta", "India Standard Time"),
        ("America/Argentina/Cordoba", "Argentina Standard Time"),
    ],
)
def test_zones_are_written_by_their_windows_name(zone: str, windows: str) -> None:
    body = events.event_body(replace(SPEC, timezone=zone), Reminder(enabled=True, minutes=10))
    assert body["start"]["timeZone"] == windows


def test_a_zone_without_a_windows_name_is_written_in_utc() -> None:
    body = events.event_body(
        replace(SPEC, timezone="Antarctica/Troll"), Reminder(enabled=True, minutes=10)
    )
    assert body["start"] == {"dateTime": "2026-03-02T09:00:00", "timeZone": "UTC"}


def test_an_html_body_reads_as_its_words() -> None:
    html = (
        '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html">'
        "<style>p {}</style></head>\r\n<body>\r\nLine one &lt;b&gt;<br>\r\nLine two\r\n"
        "</body>\r\n</html>\r\n"
    )
    assert events.body_text({"contentType": "html", "content": html}) == (
        "Line one <b> Line two"
    )
    assert events.body_text({"contentType": "text", "content": "as is"}) == "as is"


def test_each_create_lineage_has_its_own_transaction_id() -> None:
    first = events.transaction_id("anna@contoso.com", "b-1")
    assert first == events.transaction_id("anna@contoso.com", "b-1", 0)
    assert events.transaction_id("anna@contoso.com", "b-1", 1) not in {first, ""}
    assert events.transaction_id("anna@contoso.com", "b-1", 1) == events.transaction_id(
        "anna@contoso.com", "b-1", 1
    )
