"""Connect links from the admin API: issued, emailed to the staff member, stored only as a
hash, expiring and revocable."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

from sqlalchemy import select

from syncd.notify.models import OutboxMessage
from syncd.runtime import Runtime
from syncd.store.connect_tokens import ConnectToken, find_connect_token
from syncd.timeutil import utcnow
from tests.api.client import ApiClient
from tests.connect.conftest import M
from tests.notify.smtp_sink import SmtpSink
from tests.notify.support import SenderThread, text_of, wait_until

LINK = re.compile(r"http://testserver/connect/([A-Za-z0-9_-]{43})")


def issue(api: ApiClient, staff: str = "alice") -> dict[str, object]:
    answer = api.post(f"{M}/staff/{staff}/connect-links")
    assert answer.status_code == 201, answer.text
    body: dict[str, object] = answer.json()
    return body


def token_of(url: object) -> str:
    match = LINK.fullmatch(str(url))
    assert match, url
    return match.group(1)


def opens(runtime: Runtime, token: str, now: datetime | None = None) -> bool:
    with runtime.sessions.begin() as session:
        return find_connect_token(session, token, now or utcnow()) is not None


def test_a_link_is_emailed_and_only_its_hash_is_stored(
    api: ApiClient, runtime: Runtime, sink: SmtpSink
) -> None:
    body = issue(api)
    token = token_of(body["url"])
    assert body["emailed"] is True
    expires = datetime.fromisoformat(str(body["expires_at"]))
    assert abs(expires - (utcnow() + timedelta(days=7))) < timedelta(minutes=1)
    with runtime.sessions.begin() as session:
        row = session.scalars(select(ConnectToken)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        (queued,) = session.scalars(select(OutboxMessage))
        assert token not in str(queued.payload)
        assert token not in str(queued.manage_link)
    with SenderThread(runtime):
        (mail,) = sink.wait_for(1)
        wait_until(lambda: all(r.manage_link is None for r in _outbox(runtime)), what="erased")
    assert mail.rcpt_tos == ["alice@salon.example"]
    assert mail.message["Subject"] == "Connect your calendar to Salon One"
    text = text_of(mail.message)
    assert body["url"] in text
    assert "Hello Alice" in text
    assert "iCloud, Fastmail, Nextcloud" in text
    assert str(body["url"]) in text_of(mail.message, "text/html")
    assert opens(runtime, token)


def _outbox(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.sessions.begin() as session:
        return list(session.scalars(select(OutboxMessage)))


def test_a_staff_member_without_an_address_gets_the_link_through_the_merchant(
    api: ApiClient, runtime: Runtime
) -> None:
    body = issue(api, "bob")
    assert body["emailed"] is False
    assert _outbox(runtime) == []
    assert opens(runtime, token_of(body["url"]))


def test_links_expire_and_are_revoked(api: ApiClient, runtime: Runtime) -> None:
    first, second = token_of(issue(api)["url"]), token_of(issue(api)["url"])
    assert first != second
    assert not opens(runtime, first, utcnow() + timedelta(days=7, minutes=1))
    revoked = api.delete(f"{M}/staff/alice/connect-links")
    assert revoked.json() == {"revoked": 2}
    assert not opens(runtime, first)
    assert not opens(runtime, second)
    assert opens(runtime, token_of(issue(api)["url"]))


def test_malformed_and_unknown_tokens_open_nothing(runtime: Runtime) -> None:
    for token in ("", "x" * 43, "a" * 42, "a/" * 30, "ä" * 43, "a" * 300):
        assert not opens(runtime, token)


def test_refusals(api: ApiClient, runtime: Runtime) -> None:
    assert api.post(f"{M}/staff/nobody/connect-links").status_code == 404
    assert api.post("/api/v1/merchants/m2/staff/alice/connect-links").status_code == 404
    unauthorised = api.post(f"{M}/staff/alice/connect-links", headers={"Authorization": "x"})
    assert unauthorised.status_code == 401
    runtime.settings.manage.public_url = None
    refused = api.post(f"{M}/staff/alice/connect-links")
    assert refused.status_code == 409
    assert "manage.public_url" in refused.json()["error"]["message"]
