"""Verifying a webhook as a receiving platform would, written from the Standard Webhooks
specification (spec/standard-webhooks.md: "Signature scheme", "Webhook headers",
"Verifying signatures"), without any of syncd's code.

The published test vector below comes from the specification's reference Python
library (libraries/python/tests/test_webhooks.py, test_sign_function).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

TOLERANCE_SECONDS = 5 * 60

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


class VerificationError(Exception):
    pass


def _expected(secret: str, message_id: str, timestamp: str, body: bytes) -> bytes:
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    content = message_id.encode() + b"." + timestamp.encode() + b"." + body
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest())


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> dict[str, Any]:
    """The payload if one `v1` signature matches and the timestamp is fresh; else raise."""
    try:
        message_id = headers["webhook-id"]
        timestamp = headers["webhook-timestamp"]
        signatures = headers["webhook-signature"]
    except KeyError as missing:
        raise VerificationError(f"missing header {missing}") from None
    if not timestamp.isdigit():
        raise VerificationError("webhook-timestamp is not an integer")
    if abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE_SECONDS:
        raise VerificationError("webhook-timestamp is outside the tolerance")
    expected = _expected(secret, message_id, timestamp, body)
    for entry in signatures.split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return dict(json.loads(body))
    raise VerificationError("no signature matches")
