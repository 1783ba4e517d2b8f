"""Mail transports, chosen by `mail.transport`: "smtp", or "file" (the embedded default)."""

from __future__ import annotations

from syncd.config import MailSettings
from syncd.notify.transport.base import (
    Envelope,
    MailError,
    MailTransport,
    PermanentMailError,
    ServerUnavailableError,
    TemporaryMailError,
)
from syncd.notify.transport.files import FileTransport
from syncd.notify.transport.smtp import SmtpTransport

__all__ = [
    "Envelope",
    "FileTransport",
    "MailError",
    "MailTransport",
    "PermanentMailError",
    "ServerUnavailableError",
    "SmtpTransport",
    "TemporaryMailError",
    "build_transport",
]


def build_transport(settings: MailSettings) -> MailTransport:
    if settings.transport == "smtp":
        return SmtpTransport(settings, settings.password())
    return FileTransport(settings.directory)
