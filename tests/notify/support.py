"""What the notification tests share: settings, a sender running in a thread, reading mail."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import icalendar
from sqlalchemy import select

from syncd.config import Settings
from syncd.notify.models import OutboxMessage, Reminder
from syncd.notify.sender import MailSender
from syncd.notify.transport import MailTransport
from syncd.runtime import Runtime

FAST_MAIL = {
    "backoff_base_seconds": 0.05,
    "backoff_max_seconds": 0.2,
    "sweep_interval_seconds": 0.3,
    "shutdown_timeout_seconds": 5,
}


def mail_settings(database_url: str, mail: dict[str, Any]) -> Settings:
    return Settings.model_validate(
        {"database": {"url": database_url}, "mail": FAST_MAIL | mail}
    )


def smtp_mail(port: int, **extra: Any) -> dict[str, Any]:
    return {"transport": "smtp", "host": "127.0.0.1", "port": port, "security": "none"} | extra


class SenderThread:
    """The mail sender on its own event loop in a thread, as `syncd worker` runs it."""

    def __init__(
        self, runtime: Runtime, transports: Callable[[], MailTransport] | None = None
    ) -> None:
        self.runtime, self.transports = runtime, transports
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="mail-sender", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to the test on exit
            self._error = error
            self._ready.set()

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        sender = MailSender(self.runtime, self.transports)
        self._ready.set()
        await sender.run(self._stop)

    def __enter__(self) -> Self:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        assert not self._thread.is_alive(), "the sender did not stop"
        if self._error is not None:
            raise self._error


def wait_until(check: Callable[[], bool], timeout: float = 20, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def outbox_rows(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.sessions.begin() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def reminder_rows(runtime: Runtime) -> list[Reminder]:
    with runtime.sessions.begin() as session:
        return list(session.scalars(select(Reminder).order_by(Reminder.kind, Reminder.minutes)))


def all_settled(runtime: Runtime) -> bool:
    return all(row.state in ("sent", "failed") for row in outbox_rows(runtime))


def part(message: EmailMessage, content_type: str) -> EmailMessage:
    found = [p for p in message.walk() if p.get_content_type() == content_type]
    assert len(found) == 1, f"{len(found)} {content_type} parts"
    assert isinstance(found[0], EmailMessage)
    return found[0]


def text_of(message: EmailMessage, content_type: str = "text/plain") -> str:
    return str(part(message, content_type).get_content())


def calendar_of(message: EmailMessage) -> icalendar.Calendar:
    """The text/calendar part, checked to say the same as the .ics attachment."""
    inline = part(message, "text/calendar")
    attachment = part(message, "application/ics")
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content_disposition() == "attachment"
    inline_text = str(inline.get_content())
    attached = attachment.get_content()
    assert isinstance(attached, bytes)
    assert attached.decode().replace("\r\n", "\n") == inline_text.replace("\r\n", "\n")
    return icalendar.Calendar.from_ical(inline_text)


def event_of(calendar: icalendar.Calendar) -> icalendar.Event:
    (event,) = calendar.events
    return event


def eml_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.eml"))
