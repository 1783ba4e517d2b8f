"""A real SMTP server for the tests: aiosmtpd on a free 127.0.0.1 port, in a thread.

It keeps every message it accepts, parsed, and can be told how to answer:
a queue of replies to DATA (e.g. "451 ..." then the default "250 OK"), a
reply for RCPT to given addresses (e.g. "550 ..."), and a hook run on each
DATA before the reply is sent (e.g. to kill the sender at that moment).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller

from tests.servers import free_port

# aiosmtpd reports every connection at INFO from its own thread, which may log
# after the test that started it has ended and its captured output is closed.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"]).strip()


def parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        refusal = self.sink.refuse_rcpt.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        return self.sink.accept(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.data_replies: list[str] = []
        self.refuse_rcpt: dict[str, str] = {}
        self.on_data: Callable[[Received], None] | None = None
        self.attempts = 0
        self._lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def accept(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> str:
        with self._lock:
            self.attempts += 1
            reply = self.data_replies.pop(0) if self.data_replies else "250 OK"
            received = Received(mail_from, rcpt_tos, raw, parse(raw))
            if reply.startswith("250"):
                self.received.append(received)
        if self.on_data is not None:
            self.on_data(received)
        return reply

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} messages arrived")
            time.sleep(0.02)
        return self.messages()

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._controller.stop()
