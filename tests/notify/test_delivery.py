"""Delivery against a real SMTP server: retries, permanent failures, outages, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.notify.models import OutboxState
from syncd.notify.sender import MailSender
from syncd.notify.transport import FileTransport
from syncd.runtime import Runtime
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.notify import shop
from tests.notify.smtp_sink import SmtpSink, parse
from tests.notify.support import (
    SenderThread,
    all_settled,
    calendar_of,
    eml_files,
    mail_settings,
    outbox_rows,
    smtp_mail,
    wait_until,
)


def customer_row(runtime: Runtime) -> object:
    return next(row for row in outbox_rows(runtime) if row.to_address == shop.CUSTOMER)


def test_a_temporary_refusal_is_retried_with_the_same_message_id(
    runtime: Runtime, sink: SmtpSink
) -> None:
    sink.data_replies = ["451 4.3.0 try again later", "421 4.3.2 closing down"]
    with runtime.sessions.begin() as session:
        shop.seed(session)
        shop.book(session, "b1")
    with SenderThread(runtime):
        sink.wait_for(3)
        wait_until(lambda: all_settled(runtime), what="every message settled")
    rows = outbox_rows(runtime)
    assert {row.state for row in rows} == {OutboxState.SENT}
    assert sink.attempts == 5
    assert sorted(r.message_id for r in sink.messages()) == sorted(
        str(row.message_id) for row in rows
    )
    # the 451 spent one message's attempt; the 421 (server closing) spent none
    assert sorted(row.attempts for row in rows) == [1, 1, 2]


def test_a_permanent_refusal_is_recorded_and_listed(
    runtime: Runtime,
    sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from syncd.api import create_app
    from tests.api.client import ApiClient
    from tests.api.helpers import API_KEY, AUTH

    sink.refuse_rcpt[shop.CUSTOMER] = f"550 5.1.1 <{shop.CUSTOMER}>: no such mailbox"
    with runtime.sessions.begin() as session:
        shop.seed(session)
        shop.book(session, "b1")
    with SenderThread(runtime):
        sink.wait_for(2)
        wait_until(lambda: all_settled(runtime), what="every message settled")
    (failed,) = [row for row in outbox_rows(runtime) if row.state == OutboxState.FAILED]
    assert failed.to_address == shop.CUSTOMER
    assert failed.attempts == 1
    assert str(failed.last_error).startswith("550")
    refusals = [r for r in caplog.records if r.getMessage() == "message refused for good"]
    assert [r.__dict__["outbox_id"] for r in refusals] == [failed.id]
    assert shop.CUSTOMER not in caplog.text
    assert "Jane" not in caplog.text
    monkeypatch.setenv("SYNCD_API_KEY", API_KEY)
    with ApiClient(create_app(runtime), headers=AUTH) as client:
        listing = client.get("/api/v1/outbox", params={"state": "failed"}).json()
        (item,) = listing["items"]
        assert (item["id"], item["state"], item["to"]) == (failed.id, "failed", shop.CUSTOMER)
        assert (item["merchant"], item["booking"], item["kind"]) == ("salon", "b1", "confirmation")
        assert item["last_error"].startswith("550")
        assert client.post(f"/api/v1/outbox/{failed.id}/retry").json()["state"] == "queued"
        sent = next(row for row in outbox_rows(runtime) if row.state == OutboxState.SENT)
        assert client.post(f"/api/v1/outbox/{sent.id}/retry").status_code == 409


def test_attempts_are_bounded(runtime: Runtime, sink: SmtpSink) -> None:
    runtime.settings.mail.max_attempts = 3
    sink.refuse_rcpt[shop.CUSTOMER] = "452 4.2.2 mailbox full"
    with runtime.sessions.begin() as session:
        shop.seed(session)
        shop.book(session, "b1")
    with SenderThread(runtime):
        wait_until(lambda: all_settled(runtime), what="every message settled")
    failed = [row for row in outbox_rows(runtime) if row.state == OutboxState.FAILED]
    assert len(failed) == 1
    assert failed[0].attempts == 3
    assert str(failed[0].last_error).startswith("gave up after 3 attempts: 452")


def test_an_invalid_stored_address_fails_without_reaching_the_server(
    runtime: Runtime, sink: SmtpSink
) -> None:
    from syncd.store.bookings import change_booking
    from syncd.store.changes import Actor

    with runtime.sessions.begin() as session:
        shop.seed(session)
        booking = shop.book(session, "b1")
        change_booking(session, booking, {"customer_email": "jane@@example.com\r\nRCPT TO:<x@y>"},
                       Actor.MERCHANT)
        shop.cancel(session, "b1")
    with SenderThread(runtime):
        wait_until(lambda: all_settled(runtime), what="every message settled")
    failed = [row for row in outbox_rows(runtime) if row.state == OutboxState.FAILED]
    assert [row.kind for row in failed] == ["cancelled"]
    assert failed[0].last_error == "not a valid email address"
    assert all(r.rcpt_tos[0].endswith(("salon.example", "example.com")) for r in sink.messages())


def test_an_unreachable_server_spends_no_attempts_and_mail_follows_when_it_is_back(
    database_url: str,
) -> None:
    later = SmtpSink()  # its port, not yet listening
    runtime = build_runtime(mail_settings(database_url, smtp_mail(later.port)))
    try:
        upgrade(runtime.engine)
        with runtime.sessions.begin() as session:
            shop.seed(session)
            shop.book(session, "b1")
        with SenderThread(runtime):
            wait_until(
                lambda: all(row.last_error for row in outbox_rows(runtime)), what="a failed connect"
            )
            rows = outbox_rows(runtime)
            assert {(row.state, row.attempts) for row in rows} == {(OutboxState.QUEUED, 0)}
            with later:
                later.wait_for(3)
                wait_until(lambda: all_settled(runtime), what="every message settled")
        assert {row.state for row in outbox_rows(runtime)} == {OutboxState.SENT}
    finally:
        runtime.close()


def test_the_file_transport_writes_one_parseable_eml_per_message(
    database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "outbox"
    runtime = build_runtime(
        mail_settings(database_url, {"transport": "file", "directory": str(folder)})
    )
    try:
        upgrade(runtime.engine)
        with runtime.sessions.begin() as session:
            shop.seed(session)
            uid = shop.book(session, "b1").uid
        with SenderThread(runtime):
            wait_until(lambda: len(eml_files(folder)) == 3, what="three .eml files")
            wait_until(lambda: all_settled(runtime), what="every message settled")
        rows = outbox_rows(runtime)
    finally:
        runtime.close()
    messages = {parse(path.read_bytes())["Message-ID"].strip(): path for path in eml_files(folder)}
    assert set(messages) == {row.message_id for row in rows}
    customer = next(row for row in rows if row.to_address == shop.CUSTOMER)
    invitation = calendar_of(parse(messages[str(customer.message_id)].read_bytes()))
    assert str(invitation.events[0]["UID"]) == uid
    assert not list(folder.glob("*.partial"))


def test_a_file_written_again_after_a_crash_replaces_itself(tmp_path: Path) -> None:
    from syncd.notify.transport import Envelope

    transport = FileTransport(tmp_path)
    for body in (b"Subject: first\r\n\r\nx\r\n", b"Subject: again\r\n\r\nx\r\n"):
        transport.send(Envelope("a@example.com", "b@example.com", body, "<outbox-7.u@example>"))
    (only,) = eml_files(tmp_path)
    assert only.read_bytes().startswith(b"Subject: again")


def test_sender_stops_promptly_when_asked(runtime: Runtime) -> None:
    import asyncio
    import time

    async def run_briefly() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(MailSender(runtime).run(stop))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        stop.set()
        await task
        return time.monotonic() - started

    assert asyncio.run(run_briefly()) < 2


# One process owns an SQLite database: several senders need PostgreSQL.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_senders_share_the_outbox_without_sending_anything_twice(
    database_url: str, sink: SmtpSink
) -> None:
    from collections import Counter

    runtimes = [
        build_runtime(mail_settings(database_url, smtp_mail(sink.port, batch_size=10)))
        for _ in range(2)
    ]
    try:
        upgrade(runtimes[0].engine)
        with runtimes[0].sessions.begin() as session:
            shop.seed(session)
            for index in range(60):
                shop.book(session, f"b{index}", start=shop.later(index))
        with SenderThread(runtimes[0]), SenderThread(runtimes[1]):
            sink.wait_for(180)
            wait_until(lambda: all_settled(runtimes[0]), what="every message settled")
        owners = {row.message_id for row in outbox_rows(runtimes[0])}
    finally:
        for runtime in runtimes:
            runtime.close()
    received = Counter(message.message_id for message in sink.messages())
    assert set(received) == owners
    assert set(received.values()) == {1}
