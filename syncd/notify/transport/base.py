"""The transport contract: hand one finished message to whatever delivers it.

    MailError
    ├── TemporaryMailError     try this message again later (4xx)
    │   └── ServerUnavailableError     the server, not the message: pause, spend no attempt
    └── PermanentMailError     this message will never be accepted (5xx, bad address)

A transport is used from one thread at a time (the sender's transport
thread), so it may keep one connection open across messages.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from syncd.errors import SyncdError


@dataclass(frozen=True)
class Envelope:
    sender: str  # MAIL FROM
    recipient: str  # RCPT TO
    data: bytes  # the whole message, CRLF line endings
    message_id: str  # as in the Message-ID header, <...>


class MailError(SyncdError):
    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code


class TemporaryMailError(MailError):
    """The message was not accepted this time; the same message may be tried again."""


class ServerUnavailableError(TemporaryMailError):
    """The server could not be reached or talked to; every message is affected alike."""


class PermanentMailError(MailError):
    """The message will never be accepted as it is."""


class MailTransport(ABC):
    name: str

    @abstractmethod
    def send(self, envelope: Envelope) -> None:
        """Deliver `envelope`, or raise a MailError saying whether to try again.

        Blocking. On success the server has taken responsibility for the message.
        """

    def close(self) -> None:  # noqa: B027 - most transports hold nothing open
        """Release any connection; the next `send` opens a new one."""
