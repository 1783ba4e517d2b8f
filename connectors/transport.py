"""What the HTTP connectors make of TLS and of httpx's transport failures: the
verification a `ca_file` setting asks for, the failures that leave a request
without a usable answer, and telling a refused certificate among them.

TLS contexts are shared by every client of the process that verifies the same
way: loading a CA bundle costs about 30 ms of CPU and 0.8 MiB, which a thousand
stored accounts would otherwise each pay (bench/accounts.py). A `ca_file`
replaced on disk is loaded anew by the next client made. (httpcore sets ALPN on
the context at every connection; syncd's clients all speak HTTP/1.1 only, so
they never disagree.)
"""

from __future__ import annotations

import functools
import os
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


def tls_verification(ca_file: str | None, verify: bool = True) -> ssl.SSLContext:
    """The shared context verifying against `ca_file` when one is named, else as `verify`
    says (httpx's CAs, or none); UnreadableCAFile when the file cannot be loaded."""
    if ca_file is None:
        return _context(None, None, verify)
    try:
        return _context(ca_file, os.stat(ca_file).st_mtime_ns, verify)
    except (OSError, ssl.SSLError) as exc:
        raise UnreadableCAFile(ca_file, str(exc)) from None


@functools.lru_cache(maxsize=32)
def _context(ca_file: str | None, modified: int | None, verify: bool) -> ssl.SSLContext:
    """`modified` (the file's mtime) only keys the cache: a replaced file is a new entry."""
    if ca_file is None:
        return httpx.create_ssl_context(verify)
    return ssl.create_default_context(cafile=ca_file)


def certificate_refused(exc: BaseException) -> bool:
    """Whether a connection failed on certificate verification, which no retry fixes."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False
