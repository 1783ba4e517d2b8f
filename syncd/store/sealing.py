"""Credentials sealed at rest: a MultiFernet over the `[keys]` keys.

A database copy alone reveals no credential: each is a Fernet token (AES-128-CBC
and HMAC-SHA256) under a key that lives only in the configuration's secret. The
first key seals; every key opens, so a key is rotated by putting a new one first,
running `syncd keys rotate`, then dropping the old one.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from syncd.errors import ConfigError


class SealError(Exception):
    """A sealed credential that none of the keys opens; the message names no secret."""


class Sealer:
    def __init__(self, keys: Sequence[str]) -> None:
        self._fernet = MultiFernet([_fernet(index, key) for index, key in enumerate(keys)])

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SealError(
                "a stored credential opens with none of the keys in [keys] "
                "(a key removed too soon, or the wrong keys)"
            ) from None

    def rotate(self, sealed: str) -> str:
        """`sealed` sealed again under the first key; `SealError` if no key opens it."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise SealError("a stored credential opens with none of the keys in [keys]") from None


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _fernet(index: int, key: str) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        raise ConfigError([
            f"keys.encryption_keys: key {index + 1} is not a Fernet key "
            "(32 url-safe base64-encoded bytes; `syncd keys generate` makes one)"
        ]) from None
