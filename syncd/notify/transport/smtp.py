"""SMTP with smtplib: STARTTLS, implicit TLS or plain, optional login, one kept connection.

smtplib's exceptions are translated here, at the boundary: 4xx replies are
temporary, 5xx permanent, and anything that breaks the conversation itself
(refused connection, timeout, TLS failure, refused login, a dropped line,
421) means the server is down for every message alike.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Iterator

from syncd.config import MailSettings
from syncd.notify.transport.base import (
    Envelope,
    MailTransport,
    PermanentMailError,
    ServerUnavailableError,
    TemporaryMailError,
)

SERVICE_CLOSING = 421


def _reason(message: bytes | str) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    return " ".join(text.split())[:500]


def _by_code(code: int, message: bytes | str) -> Exception:
    reason = f"{code} {_reason(message)}"
    if code == SERVICE_CLOSING:
        return ServerUnavailableError(reason, code)
    if 400 <= code < 500:
        return TemporaryMailError(reason, code)
    return PermanentMailError(reason, code)


@contextlib.contextmanager
def smtp_errors() -> Iterator[None]:
    try:
        yield
    except smtplib.SMTPRecipientsRefused as error:
        code, message = next(iter(error.recipients.values()))
        raise _by_code(code, message) from None
    except smtplib.SMTPAuthenticationError as error:
        raise ServerUnavailableError(f"login refused: {error.smtp_code}", error.smtp_code) from None
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
        raise _by_code(error.smtp_code, error.smtp_error) from None
    except smtplib.SMTPResponseException as error:  # HELO, STARTTLS, unexpected replies
        raise ServerUnavailableError(f"{error.smtp_code} {_reason(error.smtp_error)}") from None
    except smtplib.SMTPNotSupportedError as error:
        raise PermanentMailError(f"the server does not support it: {error}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise ServerUnavailableError(f"{type(error).__name__}: {error}") from None


class SmtpTransport(MailTransport):
    name = "smtp"

    def __init__(self, settings: MailSettings, password: str | None) -> None:
        self.settings = settings
        self._password = password
        self._client: smtplib.SMTP | None = None

    def send(self, envelope: Envelope) -> None:
        reused = self._client is not None
        try:
            self._send_once(envelope)
        except ServerUnavailableError:
            self.close()
            if not reused:
                raise
            # a kept connection the server dropped while idle: one fresh try
            self._send_once(envelope)

    def _send_once(self, envelope: Envelope) -> None:
        with smtp_errors():
            client = self._connected()
            client.sendmail(envelope.sender, [envelope.recipient], envelope.data)

    def _connected(self) -> smtplib.SMTP:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if s.security == "tls":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=context)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        try:
            self._prepare(client, context)
        except BaseException:
            client.close()
            raise
        return client

    def _prepare(self, client: smtplib.SMTP, context: ssl.SSLContext) -> None:
        client.ehlo()
        if self.settings.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if self.settings.username:
            client.login(self.settings.username, self._password or "")

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
