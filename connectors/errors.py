"""The errors connectors raise, and the root every error of syncd descends from.

Third-party errors (httpx, caldav, MSAL) are translated into these at the
boundary where they occur, so the worker decides what to do from one small
tree. The core adds its own user errors in `syncd/errors.py`, which re-exports
these:

    SyncdError
    ├── UserError                 bad input from a person: fix it, never retry
    │   └── ConfigError           the configuration file or environment
    └── RemoteError               a calendar server answered badly or not at all
        ├── TransientError        try again later (retry_after, scope)
        ├── PreconditionFailed    If-Match / If-None-Match did not hold (412)
        │   └── UidInUse          another object has the event's UID (CalDAV no-uid-conflict)
        ├── RemoteNotFound        the object or calendar is not there (404/410)
        ├── AuthError             credentials refused: retried slowly, per binding
        └── PermanentError        the server will never accept this request
"""

from __future__ import annotations

from enum import StrEnum


class SyncdError(Exception):
    """Root of every error syncd raises on purpose."""


class UserError(SyncdError):
    """A problem a person must fix; retrying cannot help."""


class ConfigError(UserError):
    """The configuration is invalid; `problems` lists every one found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class RemoteError(SyncdError):
    """A calendar server did not do what was asked."""


class FailureScope(StrEnum):
    """How much of the work a transient failure concerns."""

    ITEM = "item"  # this one request; other writes to the calendar may go on
    CALENDAR = "calendar"  # the server or mailbox: pause the whole calendar


class TransientError(RemoteError):
    """Temporary failure (timeouts, 429, 5xx, connection refused)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        scope: FailureScope = FailureScope.ITEM,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.scope = scope


class PreconditionFailed(RemoteError):  # noqa: N818 - the HTTP status's own name
    """A conditional request failed: the remote object is not what we thought."""


class UidInUse(PreconditionFailed):
    """A create was refused: the server holds an object with this UID elsewhere.

    `holder` is that object's path when the server names it (RFC 4791 5.3.2.1);
    it may lie outside the collection (Cyrus keeps UIDs unique per calendar home).
    """

    def __init__(self, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class RemoteNotFound(RemoteError):  # noqa: N818 - mirrors HTTP 404
    """The remote object (or its calendar) does not exist."""


class AuthError(RemoteError):
    """The server refused our credentials or permissions."""


class PermanentError(RemoteError):
    """The server rejected the request for good (e.g. 400, 403, 415)."""
