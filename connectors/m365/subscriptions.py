"""Change-notification subscriptions on a mailbox's events (Graph `/subscriptions`).

    POST   /subscriptions        {resource: users/{id}/events, changeType, notificationUrl,
                                  lifecycleNotificationUrl, expirationDateTime, clientState}
    PATCH  /subscriptions/{id}   {expirationDateTime}        renewal (also after
                                                             reauthorizationRequired)
    DELETE /subscriptions/{id}

Creating one makes Graph POST `?validationToken=...` to both URLs and wait (10 s at
most) for the token echoed back as text/plain, so syncd's endpoint
(its push feed, connectors/m365/push.py) must be reachable from Graph before a
subscription can exist. `/users/{id}/events` is the resource Graph documents for
events; it covers every calendar of the mailbox. Requests go through the
mailbox's batcher like every other, within its limits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from connectors.errors import PermanentError, RemoteNotFound
from connectors.m365 import events
from connectors.m365.delta import Send
from connectors.m365.http import GraphRequest, GraphResponse, error_for
from connectors.push import ChangeSubscriptions, Endpoints, Subscription

CHANGE_TYPES = "created,updated,deleted"
#: Outlook's longest lifetime for event subscriptions, as long documented (newer pages
#: say 10,080 minutes for basic notifications; the stricter figure is the default).
MAX_MINUTES = 4230


class MailboxSubscriptions(ChangeSubscriptions):
    """Subscriptions on one mailbox's events, as one app registration sees them."""

    def __init__(self, mailbox: str, send: Send) -> None:
        """`mailbox`: the user's principal name or object id, or `me` (a signed-in user)."""
        if mailbox.lower() == "me":
            self.resource = "me/events"
        else:
            self.resource = f"users/{quote(mailbox, safe='@')}/events"
        self._send = send

    async def create(
        self, endpoints: Endpoints, client_state: str, expires: datetime
    ) -> Subscription:
        """A new subscription; `PermanentError` when Graph refuses it (e.g. validation failed)."""
        body = {
            "changeType": CHANGE_TYPES,
            "notificationUrl": endpoints.notifications,
            "lifecycleNotificationUrl": endpoints.lifecycle,
            "resource": self.resource,
            "expirationDateTime": events.query_time(expires),
            "clientState": client_state,
        }
        answer = await self._call(GraphRequest("POST", "/subscriptions", body=body))
        return _subscription(answer.body)

    async def renew(self, subscription_id: str, expires: datetime) -> Subscription:
        """Push the expiry out; `RemoteNotFound` when Graph no longer has the subscription."""
        body = {"expirationDateTime": events.query_time(expires)}
        answer = await self._call(GraphRequest("PATCH", _path(subscription_id), body=body))
        return _subscription(answer.body)

    async def delete(self, subscription_id: str) -> None:
        """Remove it; one that is gone already is fine."""
        try:
            await self._call(GraphRequest("DELETE", _path(subscription_id)))
        except RemoteNotFound:
            return

    async def _call(self, request: GraphRequest) -> GraphResponse:
        answer = await self._send(request)
        if answer.status == 404:  # Graph says ResourceNotFound: the subscription, not the mailbox
            raise RemoteNotFound(f"{request.method} /subscriptions: HTTP 404")
        if not answer.ok:
            raise error_for(answer, request)
        return answer


def _path(subscription_id: str) -> str:
    if not subscription_id or not all(c.isalnum() or c == "-" for c in subscription_id):
        raise PermanentError("a subscription id is a GUID")
    return f"/subscriptions/{subscription_id}"


def _subscription(body: Any) -> Subscription:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise PermanentError("Graph answered a subscription request without a subscription")
    try:
        expires = datetime.fromisoformat(str(body.get("expirationDateTime")))
    except ValueError:
        raise PermanentError("Graph sent an unreadable expirationDateTime") from None
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return Subscription(body["id"], expires.astimezone(UTC))
