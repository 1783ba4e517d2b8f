"""What the HTTP connectors make of TLS and of httpx's transport failures: the
verification a `ca_file` setting asks for, the failures that leave a request
without a usable answer, and telling a refused certificate among them."""

from __future__ import annotations

import ssl

import httpx

from connectors.errors import ConfigError

# No usable answer came: connection refused or dropped, timeout, a proxy failing.
TRANSPORT_FAILURES = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)


class UnreadableCAFile(ConfigError):  # noqa: N818 - named as the configuration's problem
    """The `ca_file` cannot be loaded; `reason` says why."""

    def __init__(self, ca_file: str, reason: str) -> None:
        super().__init__([f"ca_file: cannot load {ca_file} ({reason})"])
        self.ca_file = ca_file
        self.reason = reason


def tls_verification(ca_file: str | None, verify: bool = True) -> ssl.SSLContext | bool:
    """Verification against `ca_file` when one is named, else `verify` (the system's CAs);
    UnreadableCAFile when the file cannot be loaded."""
    if ca_file is None:
        return verify
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise UnreadableCAFile(ca_file, str(exc)) from None


def certificate_refused(exc: BaseException) -> bool:
    """Whether a connection failed on certificate verification, which no retry fixes."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False
