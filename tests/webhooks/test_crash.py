"""`syncd worker` SIGKILLed while a webhook is in flight: the event still arrives, with the
same webhook-id, and the booking's later events only after it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from syncd.config import load_config
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.e2e.conftest import WorkerProcess, wait_until
from tests.webhooks.conftest import (
    CREATED_MOVED_CANCELLED,
    all_deliveries,
    assert_in_order,
    book_move_cancel,
    seed_shop,
    subscribe,
)
from tests.webhooks.receiver import Receiver, Reply, always, first
from tests.webhooks.standard_webhooks import verify

pytestmark = pytest.mark.slow

CONFIG = """
[database]
url = "sqlite:///{db}"
[worker]
sweep_interval_seconds = 0.5
[webhooks]
timeout_seconds = 30.0
backoff_base_seconds = 0.05
backoff_max_seconds = 0.2
sweep_interval_seconds = 0.5
allow_destinations = ["127.0.0.1"]
[connectors.local]
kind = "memory"
"""


def test_killed_mid_delivery_the_event_is_sent_again_with_its_webhook_id(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text(CONFIG.format(db=tmp_path / "syncd.db"))
    runtime = build_runtime(load_config(config, environ={}))
    upgrade(runtime.engine)
    seed_shop(runtime)
    secret = subscribe(runtime, receiver.url)
    held = threading.Event()
    receiver.answer = first(1, Reply(hold=held))  # the first attempt of each event hangs
    book_move_cancel(runtime, "b1")
    worker = WorkerProcess(config, tmp_path / "worker.log")
    try:
        worker.start()
        receiver.wait_for(lambda got: len(got) == 1, timeout=30)
        worker.kill()
        held.set()
        assert [d.state for d in all_deliveries(runtime)] == ["pending"] * 3
        receiver.answer = always(200)
        worker.start()
        wait_until(
            lambda: all(d.state == "delivered" for d in all_deliveries(runtime)),
            timeout=30,
            what="every event delivered after the restart",
        )
        assert worker.terminate() == 0
    finally:
        if worker.process is not None and worker.process.poll() is None:
            worker.kill()
        runtime.close()
    got = receiver.received
    created = all_deliveries(runtime)[0]
    assert [r.webhook_id for r in got[:2]] == [created.message_id] * 2
    for request in got:
        verify(secret, request.headers, request.body)
    assert_in_order(got, "b1", CREATED_MOVED_CANCELLED)
    assert "whsec_" not in (tmp_path / "worker.log").read_text()
