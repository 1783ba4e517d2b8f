from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.runtime import Runtime
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.dbs import database_url
from tests.notify.smtp_sink import SmtpSink
from tests.notify.support import mail_settings, smtp_mail

__all__ = ["database_url"]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
def runtime(database_url: str, sink: SmtpSink) -> Iterator[Runtime]:
    """A migrated store (SQLite and PostgreSQL) whose mail goes to `sink` over SMTP."""
    runtime = build_runtime(mail_settings(database_url, smtp_mail(sink.port)))
    upgrade(runtime.engine)
    yield runtime
    runtime.close()
