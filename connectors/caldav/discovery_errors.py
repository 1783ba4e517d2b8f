"""Why a CalDAV discovery failed, in words a person can act on.

Each case is a class of its own with a stable `code` (what an API or a page maps to
its own text) and a message saying what to do. Messages name hosts and status codes,
never a user name, a password or a response body.
"""

from __future__ import annotations

from typing import ClassVar

from connectors.errors import SyncdError


class DiscoveryError(SyncdError):
    """Discovery could not find the account's calendars; `code` says which case."""

    code: ClassVar[str] = "discovery_failed"


class InvalidStartError(DiscoveryError):
    """What the person typed is neither an email address, a domain nor an http(s) URL."""

    code = "invalid_start"


class WrongCredentialsError(DiscoveryError):
    """The server refused the user name and password (401)."""

    code = "wrong_credentials"

    def __init__(self, host: str) -> None:
        super().__init__(
            f"{host} refused the user name or password: check both. iCloud and Fastmail "
            "need an app-specific password, made in the account's security settings"
        )


class AccessDeniedError(DiscoveryError):
    """The server knows the user but lets them read nothing here (403)."""

    code = "access_denied"

    def __init__(self, host: str) -> None:
        super().__init__(
            f"{host} accepted the login but refuses access to the calendars: "
            "ask the server's administrator to allow CalDAV for this account"
        )


class NoCalDAVError(DiscoveryError):
    """Nothing at the address speaks CalDAV for this account (404, a web page, no principal)."""

    code = "no_caldav"

    def __init__(self, where: str, what: str) -> None:
        super().__init__(
            f"this server does not offer CalDAV at {where} ({what}): check the address, "
            "or use the CalDAV URL your provider documents"
        )


class NoCalendarsError(DiscoveryError):
    """The account was found but holds no calendar; `account_url` is where it lives."""

    code = "no_calendars"

    def __init__(self, account_url: str) -> None:
        super().__init__(
            "the account was found but has no calendars yet: create one in your "
            "calendar app, then try again"
        )
        self.account_url = account_url


class TlsFailureError(DiscoveryError):
    """The TLS connection failed: an untrusted certificate, a name mismatch, no TLS."""

    code = "tls_failure"

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(
            f"secure connection to {host} failed: {reason}. If the server uses its own "
            "certificate authority, give its certificate file (ca_file)"
        )


class HostNotFoundError(DiscoveryError):
    """The host name does not resolve."""

    code = "host_not_found"

    def __init__(self, host: str) -> None:
        super().__init__(f"the name {host} does not exist in DNS: check the spelling")


class UnreachableError(DiscoveryError):
    """Nothing answered at the host and port (connection refused, or no route)."""

    code = "unreachable"

    def __init__(self, where: str) -> None:
        super().__init__(
            f"nothing answers at {where}: check the address and port, or try again "
            "when the server is up"
        )


class PrivateAddressError(DiscoveryError):
    """A host on the way (an SRV target, a redirect's) resolves to a loopback, private or
    link-local address, which an account typed by someone outside must not reach."""

    code = "private_address"

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, an address in a private network: "
                         "syncd does not connect there for this account")
        self.host = host


class TimedOutError(DiscoveryError):
    """The server did not answer in time."""

    code = "timeout"

    def __init__(self, where: str) -> None:
        super().__init__(f"{where} did not answer in time: try again later")


class ServerFailedError(DiscoveryError):
    """The server answered with an error of its own (5xx, 429)."""

    code = "server_error"

    def __init__(self, where: str, status: int) -> None:
        super().__init__(f"{where} failed with HTTP {status}: try again later")


class BadAnswerError(DiscoveryError):
    """The server answered something that is not valid WebDAV (garbage, too large, loops)."""

    code = "bad_answer"

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where} gave an answer syncd cannot read ({what})")


class ConfirmServerError(DiscoveryError):
    """The server sent syncd to another host that must not get the password unasked.

    `target` is that URL: start discovery again from it once the person has said
    the other host is theirs (or their provider's).
    """

    code = "confirm_server"

    def __init__(self, source: str, target: str) -> None:
        super().__init__(
            f"{source} sends syncd to {target}, another server: your password goes there "
            "only if you confirm it belongs to your provider (start again from that address)"
        )
        self.target = target
