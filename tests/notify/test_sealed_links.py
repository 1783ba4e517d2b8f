"""A copy of the database reveals no working manage link, before or after sending."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from syncd.config import Settings
from syncd.notify.models import OutboxMessage
from syncd.notify.sealed import LinkSeal
from syncd.runtime import Runtime
from syncd.store.schema import downgrade, upgrade
from syncd.wiring import build_runtime
from tests.manage import shop
from tests.notify.smtp_sink import SmtpSink
from tests.notify.support import (
    FAST_MAIL,
    SenderThread,
    all_settled,
    smtp_mail,
    text_of,
    wait_until,
)

SECRET = "a-manage-secret-for-sealing-tests"
LINK = re.compile(r"https://book\.example/manage/([A-Za-z0-9_-]{43})")


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
def runtime(tmp_path: Path, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("SYNCD_TEST_SEAL_SECRET", SECRET)
    settings = Settings.model_validate({
        "database": {"url": f"sqlite:///{tmp_path / 'syncd.db'}"},
        "mail": FAST_MAIL | smtp_mail(sink.port),
        "manage": {"public_url": "https://book.example/", "secret_env": "SYNCD_TEST_SEAL_SECRET"},
        "connectors": {"local": {"kind": "memory"}},
    })
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    yield runtime
    runtime.close()


def _database_bytes(runtime: Runtime) -> bytes:
    path = Path(str(runtime.engine.url.database))
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def _book_four(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session)
        for number in range(4):
            shop.book(session, f"b{number}", start=shop.at(number))


def _queued_tokens(runtime: Runtime) -> list[str]:
    with runtime.sessions.begin() as session:
        sealed = session.scalars(select(OutboxMessage.manage_link)).all()
    links = [LinkSeal(SECRET).open(value) or "" for value in sealed]
    return [found.group(1) for found in map(LINK.fullmatch, links) if found]


def _mailed_tokens(sink: SmtpSink) -> set[str]:
    return {token for r in sink.messages() for token in LINK.findall(text_of(r.message))}


def test_no_token_in_the_database_file_before_or_after_sending(
    runtime: Runtime, sink: SmtpSink
) -> None:
    _book_four(runtime)
    queued = _queued_tokens(runtime)
    assert len(queued) == 4
    stored = _database_bytes(runtime)
    assert not [token for token in queued if token.encode() in stored]
    with SenderThread(runtime):
        wait_until(lambda: all_settled(runtime), what="the mail sent")
    mailed = _mailed_tokens(sink)
    assert mailed == set(queued)  # the customers got their working links
    stored = _database_bytes(runtime)
    assert not [token for token in mailed if token.encode() in stored]
    with runtime.sessions.begin() as session:
        assert session.scalars(select(OutboxMessage.manage_link)).all() == [None] * 12


def test_links_queued_before_sealing_are_sent_then_erased(
    runtime: Runtime, sink: SmtpSink
) -> None:
    _book_four(runtime)
    legacy = "https://book.example/manage/" + "L" * 43
    downgrade(runtime.engine, "0011_manage_indexes")
    with runtime.engine.begin() as connection:
        connection.execute(text("UPDATE mail_outbox SET payload = json_set(payload, "
                                "'$.manage_url', :link)"), {"link": legacy})
        connection.execute(text("UPDATE mail_outbox SET state = 'sent' WHERE id = 1"))
    upgrade(runtime.engine)
    with runtime.sessions.begin() as session:
        assert all("manage_url" not in p for p in session.scalars(select(OutboxMessage.payload)))
        sent = session.get(OutboxMessage, 1)
        assert sent is not None
        assert sent.manage_link is None  # a sent message keeps no link
    with SenderThread(runtime):
        wait_until(lambda: all_settled(runtime), what="the mail sent")
    assert "L" * 43 in _mailed_tokens(sink)
    runtime.engine.dispose()  # its last connection closed: the write-ahead log is folded in
    assert legacy.encode() not in _database_bytes(runtime)
