"""Signatures as the Standard Webhooks specification (v1, symmetric) defines them.

    webhook-id:        the event's id, the same on every attempt
    webhook-timestamp: the attempt's time, integer Unix seconds
    webhook-signature: "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>", one per
                       valid secret, space-separated (two during a rotation)

A secret is shown as "whsec_" + base64 of its key bytes; the key is what is
after the prefix, base64-decoded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - the specification's marker, not a secret
SECRET_BYTES = 32  # the specification asks for 24 to 64
SIGNATURE_VERSION = "v1"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    return binascii.a2b_base64(secret.removeprefix(SECRET_PREFIX))  # as base64.b64decode does


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.digest(secret_key(secret), signed, hashlib.sha256)  # OpenSSL's one-shot HMAC
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(
    signing_secrets: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three webhook-* headers for one attempt."""
    signatures = " ".join([sign(s, message_id, timestamp, body) for s in signing_secrets])
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
