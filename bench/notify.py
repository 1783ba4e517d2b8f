"""Deliver N queued messages through syncd's mail sender, against a plain smtplib loop.

    .venv/bin/python bench/notify.py [--messages 5000] [--rounds 1]

Both send to the same local aiosmtpd server, run in a process of its own that
accepts every message. syncd: N booking confirmations are queued in the
outbox first (through the store's booking function, as the API would); the
clock runs from starting the sender until the store records all N sent, so
it covers claiming, rendering the templates and the invitation, building the
MIME message, SMTP, and recording. Baseline: the same N messages, already
built (by syncd's composer), sent by `smtplib.SMTP.sendmail` in a plain loop
on one connection. Rounds alternate the two so drift hits both alike.
Target: syncd within 1.5x of the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from syncd.config import Settings
from syncd.notify.compose import Composer
from syncd.notify.models import OutboxMessage, OutboxState
from syncd.notify.queue import Letter, message_id_for
from syncd.notify.sender import MailSender
from syncd.notify.transport import Envelope
from syncd.runtime import Runtime
from syncd.schemas import MerchantIn, ServiceIn, StaffIn
from syncd.store.catalog import upsert_merchant, upsert_service, upsert_staff
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.notify import shop
from tests.servers import free_port

ENQUEUE_BATCH = 500
SERVER = """
import sys
from aiosmtpd.controller import Controller

class Accept:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"

controller = Controller(Accept(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""


def start_server(port: int) -> subprocess.Popen[str]:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None
    assert server.stdout.readline().strip() == "ready"
    return server


def runtime_with_queue(workdir: Path, round_no: int, port: int, messages: int) -> Runtime:
    settings = Settings.model_validate({
        "database": {"url": f"sqlite:///{workdir}/notify-{round_no}.db"},
        "mail": {"transport": "smtp", "host": "127.0.0.1", "port": port, "security": "none"},
    })
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    with runtime.sessions.begin() as session:
        salon, _ = upsert_merchant(session, "salon", MerchantIn(
            name="Salon One", timezone="Europe/Berlin", contact_text="Call us on 030 123456."
        ))
        upsert_service(session, salon, "cut", ServiceIn(name="Haircut", duration_minutes=30))
        # no staff or merchant address: one message, the customer's, per booking
        upsert_staff(session, salon, "alice", StaffIn(name="Alice", timezone="Europe/Berlin"))
    for first in range(0, messages, ENQUEUE_BATCH):
        with runtime.sessions.begin() as session:
            for index in range(first, min(first + ENQUEUE_BATCH, messages)):
                shop.book(session, f"b{index}", start=shop.later(index))
    return runtime


def sent(runtime: Runtime) -> int:
    with runtime.sessions.begin() as session:
        query = select(func.count()).where(OutboxMessage.state == OutboxState.SENT)
        return session.scalar(query) or 0


async def with_syncd(runtime: Runtime, messages: int) -> float:
    stop = asyncio.Event()
    started = time.perf_counter()
    sender = asyncio.create_task(MailSender(runtime).run(stop))
    while await asyncio.to_thread(sent, runtime) < messages:
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - started
    stop.set()
    await sender
    return elapsed


def built_messages(runtime: Runtime) -> list[Envelope]:
    """The messages syncd sends for the queued rows, built by its own composer."""
    composer = Composer(runtime.settings.mail)
    with runtime.sessions.begin() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        letters = [
            Letter(row.id, row.kind, row.audience, row.to_address, row.to_name, row.timezone,
                   row.payload, message_id_for(row.id, row.payload, composer.domain), 0,
                   row.queued_at, row.manage_link)
            for row in rows
        ]
    return [composer.envelope(letter) for letter in letters]


def baseline(port: int, envelopes: list[Envelope]) -> float:
    started = time.perf_counter()
    client = smtplib.SMTP("127.0.0.1", port)
    for envelope in envelopes:
        client.sendmail(envelope.sender, [envelope.recipient], envelope.data)
    client.quit()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    port = free_port()
    server = start_server(port)
    raw_times, syncd_times = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for round_no in range(args.rounds):
                runtime = runtime_with_queue(Path(tmp), round_no, port, args.messages)
                envelopes = built_messages(runtime)
                raw_times.append(baseline(port, envelopes))
                syncd_times.append(asyncio.run(with_syncd(runtime, args.messages)))
                runtime.close()
                print(f"round {round_no + 1}: smtplib loop {raw_times[-1]:.2f}s  "
                      f"syncd {syncd_times[-1]:.2f}s", flush=True)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(10)
    raw, ours = statistics.median(raw_times), statistics.median(syncd_times)
    size = sum(len(e.data) for e in envelopes) / len(envelopes)
    print(f"\n{args.messages} messages ({size / 1024:.1f} KiB each, with invitation)")
    print(f"smtplib loop, one connection : {raw:.2f}s ({args.messages / raw:.0f} messages/s)")
    print(f"syncd outbox to server       : {ours:.2f}s ({args.messages / ours:.0f} messages/s)")
    print(f"ratio syncd/smtplib          : {ours / raw:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
