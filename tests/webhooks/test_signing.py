"""syncd's signatures against the specification's published vector and an independent verifier."""

from __future__ import annotations

import base64

import pytest

from syncd.webhooks.signing import new_secret, sign, signed_headers
from tests.webhooks.standard_webhooks import (
    VECTOR_BODY,
    VECTOR_ID,
    VECTOR_SECRET,
    VECTOR_SIGNATURE,
    VECTOR_TIMESTAMP,
    VerificationError,
    verify,
)


def test_the_published_vector_is_reproduced() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_the_independent_verifier_accepts_the_published_vector() -> None:
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP) == {
        "test": 2432232314
    }


def test_new_secrets_are_whsec_and_32_random_bytes() -> None:
    one, two = new_secret(), new_secret()
    assert one.startswith("whsec_")
    assert len(base64.b64decode(one.removeprefix("whsec_"))) == 32
    assert one != two


def test_two_secrets_give_two_signatures_each_verifiable_alone() -> None:
    old, new = new_secret(), new_secret()
    body = b'{"type":"booking.created"}'
    headers = signed_headers([new, old], "msg_1", 1_900_000_000, body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        verify(secret, headers, body, now=1_900_000_000)
    with pytest.raises(VerificationError):
        verify(new_secret(), headers, body, now=1_900_000_000)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": b'{"type":"booking.cancelled"}'}, "no signature matches"),
        ({"webhook-id": "msg_2"}, "no signature matches"),
        ({"now": 1_900_000_000 + 301}, "outside the tolerance"),
    ],
)
def test_tampering_or_replay_is_refused(change: dict[str, object], reason: str) -> None:
    secret, body = new_secret(), b'{"type":"booking.created"}'
    headers = signed_headers([secret], "msg_1", 1_900_000_000, body)
    if "webhook-id" in change:
        headers["webhook-id"] = str(change["webhook-id"])
    sent = change.get("body", body)
    now = change.get("now", 1_900_000_000)
    assert isinstance(sent, bytes)
    assert isinstance(now, int)
    with pytest.raises(VerificationError, match=reason):
        verify(secret, headers, sent, now=now)
