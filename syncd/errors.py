"""syncd's own exceptions, on the tree whose root and remote branch the connectors
define (`connectors/errors.py`, re-exported here so the core names one module):

    SyncdError
    ├── UserError                 bad input from a person: fix it, never retry
    │   ├── ConfigError           the configuration file or environment
    │   ├── InputError            an API payload or an import file
    │   ├── NotFound              an id in a path names nothing
    │   └── Conflict              the request clashes with the current state
    └── RemoteError               a calendar server answered badly or not at all
        ├── TransientError        try again later (retry_after, scope)
        ├── PreconditionFailed    If-Match / If-None-Match did not hold (412)
        │   └── UidInUse          another object has the event's UID (CalDAV no-uid-conflict)
        ├── RemoteNotFound        the object or calendar is not there (404/410)
        ├── AuthError             credentials refused: retried slowly, per binding
        └── PermanentError        the server will never accept this request
"""

from __future__ import annotations

from connectors.errors import (
    AuthError,
    ConfigError,
    FailureScope,
    PermanentError,
    PreconditionFailed,
    RemoteError,
    RemoteNotFound,
    SyncdError,
    TransientError,
    UidInUse,
    UserError,
)

__all__ = [
    "AuthError",
    "ConfigError",
    "Conflict",
    "FailureScope",
    "InputError",
    "NotFound",
    "PermanentError",
    "PreconditionFailed",
    "RemoteError",
    "RemoteNotFound",
    "SyncdError",
    "TransientError",
    "UidInUse",
    "UserError",
]


class InputError(UserError):
    """A payload is invalid; `fields` maps each bad field's path to why."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


class NotFound(UserError):  # noqa: N818 - reads as the HTTP status it becomes
    """An id named in a request does not exist."""


class Conflict(UserError):  # noqa: N818 - reads as the HTTP status it becomes
    """The request is well-formed but clashes with the current state."""
