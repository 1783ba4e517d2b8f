"""Manage links in queued mail, sealed: a copy of the database opens no booking.

A queued customer message needs its link until it is sent, so the link is
stored encrypted (Fernet) under a key derived (HKDF-SHA256) from the manage
secret, opened by the sender when it builds the message, and erased once the
message is sent. Without a manage secret (tests, a half-configured run) the key
is this process's own: a link queued by another process then cannot be opened
and the message shows the merchant's contact text instead.

Rows queued by versions before sealing carry `plain:` links (moved there by
migration 0015_sealed_manage_links); they are read as they are and erased on sending like any.
"""

from __future__ import annotations

import base64
import logging
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger("syncd.notify")
LEGACY_PREFIX = "plain:"
_PURPOSE = b"syncd manage link in the mail outbox"
_PROCESS_SECRET = secrets.token_urlsafe(32)


class LinkSeal:
    def __init__(self, secret: str | None) -> None:
        self._fernet = _fernet(secret or _PROCESS_SECRET)

    def seal(self, link: str | None) -> str | None:
        return None if link is None else self._fernet.encrypt(link.encode()).decode("ascii")

    def open(self, sealed: str | None) -> str | None:
        """The link, or None when there is none or it cannot be opened with this key."""
        if sealed is None:
            return None
        if sealed.startswith(LEGACY_PREFIX):
            return sealed.removeprefix(LEGACY_PREFIX)
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            log.warning("a queued manage link cannot be opened (another manage secret?)")
            return None


@lru_cache(maxsize=8)
def _fernet(secret: str) -> Fernet:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE)
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(secret.encode())))
