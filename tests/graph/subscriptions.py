"""Change-notification subscriptions on a mailbox's events.

    POST /subscriptions   {changeType, notificationUrl, resource, expirationDateTime,
                           clientState?, lifecycleNotificationUrl?}
    GET /subscriptions[/{id}], PATCH /subscriptions/{id} (renew, new notificationUrl),
    DELETE /subscriptions/{id}, POST /subscriptions/{id}/reauthorize

Resources: /users/{id}/events, /users/{id}/calendar/events and
/users/{id}/calendars/{cid}/events, and the same under /me for a delegated token (a
signed-in user subscribes to their own mailbox only: another one is 403, as its reads
are; an app token has no /me). The documentation is silent on whether
/users/{id}/events spans calendars, and users report it notifies for the default
calendar only: the double notifies for the default calendar only. Creating (and changing the
notificationUrl) runs Graph's validation handshake against notificationUrl and
lifecycleNotificationUrl; a failed one is 400 ValidationError and no subscription.

The longest lifetime accepted is `MAX_MINUTES` = 4230 for Outlook events, as the
subscription resource reference has long stated; newer pages state 10,080 minutes for
basic notifications on messages/events/contacts. The stricter figure is kept so a client
that passes here passes with either (`GraphDouble.subscription_max_minutes` changes it).

Real Graph requires https notification URLs; the double also accepts http://127.0.0.1
because it is a test tool.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.graph.errors import GraphError, Reply, bad_request, not_implemented
from tests.graph.graph import Context, Route, route
from tests.graph.timezones import timestamp

if TYPE_CHECKING:
    from tests.graph.state import State
    from tests.graph.store import Event, Mailbox

MAX_MINUTES = 4230
CHANGE_TYPES = {"created", "updated", "deleted"}
LIFECYCLE_EVENTS = {"subscriptionRemoved", "missed", "reauthorizationRequired"}
_RESOURCE = re.compile(
    r"^/?(?:users/(?P<user>[^/]+)|(?P<me>me))"
    r"/(?:(?P<all>events)|calendar/events|calendars/(?P<calendar>[^/]+)/events)$",
    re.IGNORECASE,
)


@dataclass
class Subscription:
    id: str
    resource: str
    change_types: list[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: datetime
    mailbox_id: str
    calendar_id: str | None  # None: /users/{id}/events, which tells of the default calendar
    application_id: str
    needs_reauthorization: bool = False

    def watches(self, mailbox: Mailbox, event: Event, change_type: str) -> bool:
        return (
            self.mailbox_id == mailbox.id
            and change_type in self.change_types
            and event.calendar_id == (self.calendar_id or mailbox.default_calendar.id)
            and self.expiration > datetime.now(UTC)
        )

    def render(self, graph_url: str) -> dict[str, Any]:
        return {
            "@odata.context": f"{graph_url}/$metadata#subscriptions/$entity",
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": ",".join(self.change_types),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": timestamp(self.expiration),
            "creatorId": self.application_id,
            "includeResourceData": None,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }


def _field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise bad_request(
            f"{name} is a required property for subscription creation.", "InvalidRequest"
        )
    return value


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"https", "http"} or not parts.netloc:
        raise bad_request(
            f"The notification URL '{value}' is not a valid https URL.", "InvalidRequest"
        )
    return value


def _change_types(value: str) -> list[str]:
    kinds = [kind.strip() for kind in value.split(",")]
    if not kinds or any(kind not in CHANGE_TYPES for kind in kinds):
        raise bad_request(f"Invalid changeType '{value}'.", "InvalidRequest")
    return kinds


def _expiration(value: str, max_minutes: int) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request(f"Invalid expirationDateTime '{value}'.", "InvalidRequest") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    if moment <= now:
        raise bad_request("Subscription expiration must be in the future.", "InvalidRequest")
    if moment > now + timedelta(minutes=max_minutes):
        raise bad_request(
            f"Subscription expiration can only be {max_minutes} minutes in the future.",
            "ExtensionError",
        )
    return moment


def _client_state(body: dict[str, Any]) -> str | None:
    value = _field(body, "clientState", required=False)
    if value is not None and len(value) > 128:
        raise bad_request("clientState can be at most 128 characters long.", "InvalidRequest")
    return value


def _target(context: Context, resource: str) -> tuple[Mailbox, str | None]:
    match = _RESOURCE.match(resource.strip())
    if match is None:
        if resource.strip("/").lower().startswith(("users/", "me/")):
            raise not_implemented(f"subscriptions to '{resource}'")
        raise bad_request(
            f"Resource '{resource}' is not supported for subscriptions.", "InvalidRequest"
        )
    mailbox = _subscribed_mailbox(context, match["user"])
    if match["all"]:
        return mailbox, None
    if match["calendar"] is None:
        return mailbox, mailbox.default_calendar.id
    if match["calendar"] not in mailbox.calendars:
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    return mailbox, match["calendar"]


def _subscribed_mailbox(context: Context, user: str | None) -> Mailbox:
    """The mailbox a resource names; /me is the delegated token's user, and theirs only."""
    principal = context.call.principal
    delegate = principal.user if principal is not None else None
    if user is None:
        if delegate is None:
            raise bad_request("/me request is only valid with delegated authentication flow.")
        user = delegate
    if not context.state.mailboxes_on_demand and context.state.store.find(user) is None:
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
    mailbox = context.state.store.resolve(user)
    if delegate is not None and mailbox.id != delegate:
        raise GraphError(
            403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
        )
    return mailbox


async def create_subscription(context: Context) -> Reply:
    body = context.call.json()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a subscription object.")
    resource = _field(body, "resource") or ""
    change_types = _change_types(_field(body, "changeType") or "")
    notification_url = _url(_field(body, "notificationUrl") or "")
    lifecycle = body.get("lifecycleNotificationUrl")
    lifecycle_url = _url(lifecycle) if isinstance(lifecycle, str) and lifecycle else None
    expiration = _expiration(
        _field(body, "expirationDateTime") or "", context.state.subscription_max_minutes
    )
    client_state = _client_state(body)
    mailbox, calendar_id = _target(context, resource)
    for url in dict.fromkeys(u for u in (notification_url, lifecycle_url) if u):
        await context.state.notifier.validate(url)
    assert context.call.principal is not None
    subscription = Subscription(
        str(uuid.uuid4()),
        resource,
        change_types,
        notification_url,
        lifecycle_url,
        client_state,
        expiration,
        mailbox.id,
        calendar_id,
        context.call.principal.client_id,
    )
    context.state.subscriptions[subscription.id] = subscription
    return Reply(201, subscription.render(context.state.graph_url))


def live(state: State) -> dict[str, Subscription]:
    """The subscriptions, after Graph's removal of expired ones."""
    now = datetime.now(UTC)
    for expired in [s.id for s in state.subscriptions.values() if s.expiration <= now]:
        state.subscriptions.pop(expired, None)
    return state.subscriptions


def _find(context: Context) -> Subscription:
    found = live(context.state).get(context.params["subscription"])
    assert context.call.principal is not None
    if found is None or found.application_id != context.call.principal.client_id:
        raise GraphError(
            404, "ResourceNotFound", f"The object '{context.params['subscription']}' was not found."
        )
    return found


async def get_subscription(context: Context) -> Reply:
    return Reply(200, _find(context).render(context.state.graph_url))


async def list_subscriptions(context: Context) -> Reply:
    assert context.call.principal is not None
    mine = [
        s.render(context.state.graph_url)
        for s in live(context.state).values()
        if s.application_id == context.call.principal.client_id
    ]
    for item in mine:
        item.pop("@odata.context")
    return Reply(
        200, {"@odata.context": f"{context.state.graph_url}/$metadata#subscriptions", "value": mine}
    )


async def update_subscription(context: Context) -> Reply:
    subscription = _find(context)
    body = context.call.json()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a subscription object.")
    expiration = None
    if "expirationDateTime" in body:
        limit = context.state.subscription_max_minutes
        expiration = _expiration(str(body["expirationDateTime"]), limit)
    url = _url(str(body["notificationUrl"])) if "notificationUrl" in body else None
    if url is not None:
        await context.state.notifier.validate(url)
        subscription.notification_url = url
    if expiration is not None:
        subscription.expiration = expiration
    subscription.needs_reauthorization = False
    return Reply(200, subscription.render(context.state.graph_url))


async def delete_subscription(context: Context) -> Reply:
    context.state.subscriptions.pop(_find(context).id, None)
    return Reply(204)


async def reauthorize(context: Context) -> Reply:
    _find(context).needs_reauthorization = False
    return Reply(204)


def notification(
    subscription: Subscription, mailbox: Mailbox, event: Event, change_type: str, tenant_id: str
) -> dict[str, Any]:
    resource = f"Users/{mailbox.id}/Events/{event.id}"
    return {
        "subscriptionId": subscription.id,
        "subscriptionExpirationDateTime": timestamp(subscription.expiration),
        "changeType": change_type,
        "resource": resource,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Event",
            "@odata.id": resource,
            "@odata.etag": event.etag,
            "id": event.id,
        },
        "clientState": subscription.client_state,
        "tenantId": tenant_id,
    }


def on_change(state: State) -> Callable[[Mailbox, Event, str], None]:
    """A store listener queuing a notification for every subscription watching the change."""

    def notify(mailbox: Mailbox, event: Event, change_type: str) -> None:
        for subscription in list(state.subscriptions.values()):
            if subscription.watches(mailbox, event, change_type):
                item = notification(
                    subscription, mailbox, event, change_type, state.directory.tenant_id
                )
                state.notifier.enqueue(subscription.notification_url, item)

    return notify


def lifecycle_notification(
    subscription: Subscription, event: str, tenant_id: str
) -> dict[str, Any]:
    return {
        "value": [
            {
                "subscriptionId": subscription.id,
                "subscriptionExpirationDateTime": timestamp(subscription.expiration),
                "tenantId": tenant_id,
                "clientState": subscription.client_state,
                "lifecycleEvent": event,
            }
        ]
    }


def routes() -> list[Route]:
    # Creating a subscription to events needs read access to them (Calendars.Read).
    return [
        route("POST", "/subscriptions", create_subscription, "read"),
        route("GET", "/subscriptions", list_subscriptions, "read"),
        route("GET", "/subscriptions/{subscription}", get_subscription, "read"),
        route("PATCH", "/subscriptions/{subscription}", update_subscription, "read"),
        route("DELETE", "/subscriptions/{subscription}", delete_subscription, "read"),
        route("POST", "/subscriptions/{subscription}/reauthorize", reauthorize, "read"),
    ]
