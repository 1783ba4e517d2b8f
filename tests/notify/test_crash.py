"""SIGKILL `syncd worker` while it sends: no message lost, none under a second Message-ID.

The first kill lands at the worst moment: the server has the message but the
worker is gone before it hears "250", so it never records the message sent.
The next worker sends it again, with the same Message-ID, which is what lets
a receiver recognise the repeat. Later kills land at random moments.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from syncd.config import load_config
from syncd.notify.models import OutboxState
from syncd.runtime import Runtime
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.e2e.conftest import WorkerProcess
from tests.notify import shop
from tests.notify.smtp_sink import Received, SmtpSink
from tests.notify.support import all_settled, outbox_rows, wait_until

pytestmark = pytest.mark.slow

BOOKINGS = 80  # three messages each: customer, staff member, merchant
RANDOM_KILLS = 3


def write_config(path: Path, database_url: str, port: int) -> Path:
    path.write_text(
        "\n".join([
            "[database]",
            f"url = '{database_url}'",
            "[mail]",
            "transport = 'smtp'",
            "host = '127.0.0.1'",
            f"port = {port}",
            "security = 'none'",
            "batch_size = 25",
            "lease_seconds = 3.0",  # how soon a killed worker's claims pass on (PostgreSQL)
            "sweep_interval_seconds = 0.5",
            "backoff_base_seconds = 0.1",
            "backoff_max_seconds = 0.5",
            "",
        ])
    )
    return path


def seed(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session)
        for index in range(BOOKINGS):
            staff = ("alice", "bob")[index % 2]
            shop.book(session, f"b{index}", start=shop.later(index), staff=staff)


def kill_at_message(worker: WorkerProcess, number: int) -> object:
    """An on_data hook: SIGKILL the worker once the server holds message `number`."""

    def hook(received: Received) -> None:
        nonlocal number
        number -= 1
        if number == 0 and worker.process is not None:
            os.kill(worker.process.pid, signal.SIGKILL)

    return hook


def test_killed_mid_send_no_duplicate_by_message_id_and_no_loss(
    database_url: str, sink: SmtpSink, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "syncd.toml", database_url, sink.port)
    runtime = build_runtime(load_config(config, environ={}))
    try:
        upgrade(runtime.engine)
        seed(runtime)
        run_with_kills(runtime, sink, WorkerProcess(config, tmp_path / "worker.log"))
        rows = outbox_rows(runtime)
    finally:
        runtime.close()
    assert len(rows) == 3 * BOOKINGS
    assert {row.state for row in rows} == {OutboxState.SENT}
    received = Counter(message.message_id for message in sink.messages())
    # no loss, and no message ever went out under a Message-ID not its own
    assert set(received) == {row.message_id for row in rows}
    # the first kill came after the server took a message the worker never recorded
    assert max(received.values()) >= 2


def run_with_kills(runtime: Runtime, sink: SmtpSink, worker: WorkerProcess) -> None:
    sink.on_data = kill_at_message(worker, 10)  # type: ignore[assignment]
    worker.start()
    assert worker.process is not None
    worker.process.wait(60)
    sink.on_data = None
    rng = random.Random(20261121)
    for _ in range(RANDOM_KILLS):
        before = len(sink.messages())
        worker.start()
        wait_until(lambda before=before: len(sink.messages()) > before + 5, timeout=60,  # type: ignore[misc]
                   what="sending to resume")
        time.sleep(rng.uniform(0.0, 0.2))
        worker.kill()
    assert not all_settled(runtime), "the worker must be killed with mail still to send"
    worker.start()
    wait_until(lambda: all_settled(runtime), timeout=120, what="every message sent")
    assert worker.terminate() == 0
