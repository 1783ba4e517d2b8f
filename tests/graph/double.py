"""GraphDouble: the handle tests and bench scripts hold (see tests/graph/__init__.py)."""

from __future__ import annotations

import re
import secrets
import ssl
import time
import uuid
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from tests.graph import calendarview, delta, events, schedule, subscriptions
from tests.graph.auth import WRITE_ROLE
from tests.graph.entra import Browser, User
from tests.graph.eventjson import View, apply_changes, new_event, parse_changes, render_event
from tests.graph.faults import Faults
from tests.graph.graph import Pipeline
from tests.graph.limits import Stats
from tests.graph.notifier import Delivery
from tests.graph.server import GraphApp, ServerThread
from tests.graph.state import State
from tests.graph.store import Mailbox
from tests.graph.timezones import format_graph_time, resolve_zone
from tests.graph.tls import TlsFiles


class GraphDouble:
    """Microsoft Graph and its Entra ID token endpoint, served over HTTPS on 127.0.0.1.

    Not started on construction: `start()`/`stop()` or use it as a context manager; a
    stopped double starts again on the same port with the same data (outage tests).
    One app (`client_id`, `client_secret`) may write every mailbox; `add_app` adds more.
    """

    def __init__(self, *, undocumented_forms: bool = False) -> None:
        self._state = State()
        self._state.undocumented_forms = undocumented_forms
        self._tls = TlsFiles()
        self.client_id = str(uuid.uuid4())
        self.client_secret = secrets.token_urlsafe(32)
        self._state.directory.add_app(self.client_id, secret=self.client_secret)
        routes = (
            events.routes()
            + calendarview.routes()
            + delta.routes()
            + schedule.routes()
            + subscriptions.routes()
        )
        self._state.store.listeners.append(subscriptions.on_change(self._state))
        self._pipeline = Pipeline(self._state, routes)
        app = GraphApp(self._state, self._pipeline, self._on_startup, self._on_shutdown)
        self._server = ServerThread(app.app, self._tls)

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        self._state.stopping.clear()
        self._server.start()
        self._state.base_url = f"https://127.0.0.1:{self._server.port}"
        self._state.directory.base_url = self._state.base_url

    def stop(self) -> None:
        self._state.stopping.set()
        self._server.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def _on_startup(self) -> None:
        await self._state.notifier.start()

    async def _on_shutdown(self) -> None:
        await self._state.notifier.stop()

    # -- addresses --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._state.base_url

    @property
    def graph_url(self) -> str:
        return self._state.graph_url

    @property
    def tenant_id(self) -> str:
        return self._state.directory.tenant_id

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant_id}"

    @property
    def ca_file(self) -> str:
        return self._tls.ca_file

    def tls_verify(self) -> ssl.SSLContext:
        """httpx's `verify` for the double (httpx deprecates `verify=<path>`)."""
        return ssl.create_default_context(cafile=self.ca_file)

    # -- apps and tokens --------------------------------------------------------------

    def add_app(
        self,
        client_id: str,
        secret: str | None = None,
        certificate_pem: str | bytes | None = None,
        roles: tuple[str, ...] = (WRITE_ROLE,),
        redirect_uris: tuple[str, ...] = (),
    ) -> None:
        """Register an app in the home tenant; one without secret or certificate is public."""
        directory = self._state.directory
        directory.add_app(client_id, secret, certificate_pem, tuple(roles), tuple(redirect_uris))

    # -- delegated sign-in and consent (tests/graph/entra.py, signin.py) --------------

    def add_tenant(self) -> str:
        """Another organisation's tenant (a merchant's): its id."""
        return self._state.directory.add_tenant()

    def add_user(self, upn: str, tenant_id: str | None = None, *, admin: bool = False) -> str:
        """A user of `tenant_id` (the home tenant by default) with a mailbox: their object id."""
        tenant = (tenant_id or self.tenant_id).lower()
        if not self._state.directory.knows(tenant):
            raise KeyError(f"no tenant {tenant}")
        mailbox = self._state.store.add_mailbox(upn)
        with self._state.directory.lock:
            self._state.directory.delegation.add_user(User(mailbox.id, upn, tenant, admin))
        return mailbox.id

    def sign_in(self, upn: str | None, *, consents: bool = True) -> None:
        """Who the authorize and admin consent endpoints see signed in, and their answer."""
        delegation = self._state.directory.delegation
        user = delegation.users[upn.lower()] if upn is not None else None
        delegation.browser = Browser(user, consents)

    def revoke_sessions(self, upn: str) -> None:
        """An admin revokes the user's sessions: their refresh tokens fail (AADSTS50173)."""
        self._set_grants(upn, revoked=True)

    def expire_refresh_tokens(self, upn: str) -> None:
        """The user's refresh tokens were idle too long (AADSTS700082)."""
        self._set_grants(upn, expired=True)

    def withdraw_consent(self, upn: str, client_id: str) -> None:
        """The user removes the app's permissions (refresh: AADSTS65001)."""
        directory = self._state.directory
        with directory.lock:
            directory.delegation.withdraw_consent(
                directory.delegation.users[upn.lower()], client_id
            )

    def _set_grants(self, upn: str, *, revoked: bool = False, expired: bool = False) -> None:
        directory = self._state.directory
        with directory.lock:
            for grant in directory.delegation.grants_of(directory.delegation.users[upn.lower()]):
                grant.revoked = grant.revoked or revoked
                grant.expired = grant.expired or expired

    def revoke(self, client_id: str) -> None:
        self._state.directory.revoke(client_id)

    def expire_tokens(self) -> None:
        self._state.directory.expire_tokens()

    @property
    def token_lifetime_seconds(self) -> int:
        return self._state.directory.token_lifetime_seconds

    @token_lifetime_seconds.setter
    def token_lifetime_seconds(self, value: int) -> None:
        self._state.directory.token_lifetime_seconds = value

    # -- limits, faults, stats --------------------------------------------------------

    @property
    def latency_seconds(self) -> float:
        return self._state.latency_seconds

    @latency_seconds.setter
    def latency_seconds(self, value: float) -> None:
        self._state.latency_seconds = value

    @property
    def undocumented_forms(self) -> bool:
        """Whether forms Graph does not document are served (tests/graph/forms.py)."""
        return self._state.undocumented_forms

    @undocumented_forms.setter
    def undocumented_forms(self, value: bool) -> None:
        self._state.undocumented_forms = value

    @property
    def mailboxes_on_demand(self) -> bool:
        """Whether a mailbox never added is made on first use (the default); when False,
        Graph's answer for an unknown user: 404 ErrorInvalidUser."""
        return self._state.mailboxes_on_demand

    @mailboxes_on_demand.setter
    def mailboxes_on_demand(self, value: bool) -> None:
        self._state.mailboxes_on_demand = value

    @property
    def faults(self) -> Faults:
        return self._state.faults

    @property
    def stats(self) -> Stats:
        """Counters; `stats.reset()` clears them (and forgets Retry-Afters given)."""
        return self._state.stats

    # -- mailboxes and events, as staff would change them -----------------------------

    def add_mailbox(self, upn: str, timezone: str = "UTC") -> str:
        resolve_zone(timezone)
        return self._state.store.add_mailbox(upn, timezone).id

    def add_calendar(self, mailbox: str, name: str) -> str:
        store = self._state.store
        return store.add_calendar(store.resolve(mailbox), name).id

    def events(self, mailbox: str) -> list[dict[str, Any]]:
        """The mailbox's events (all calendars, series unexpanded), extended properties included.

        Events in Deleted Items are not among them: see `deleted_events`.
        """
        store = self._state.store
        with store.lock:
            box = store.resolve(mailbox)
            found = sorted(box.in_calendars(), key=lambda e: (e.start, e.id))
            return [
                {**render_event(e, box, View(expand={"*"})), "calendarId": e.calendar_id}
                for e in found
            ]

    def add_foreign_event(  # noqa: PLR0917 - the agreed interface takes these positionally
        self,
        mailbox: str,
        subject: str,
        start: datetime | dict[str, str],
        end: datetime | dict[str, str],
        show_as: str = "busy",
        calendar_id: str | None = None,
        recurrence: dict[str, Any] | None = None,
    ) -> str:
        """An event staff created in Outlook; naive datetimes are in the mailbox's zone."""
        store = self._state.store
        with store.lock:
            box = store.resolve(mailbox)
            body: dict[str, Any] = {
                "subject": subject,
                "start": _time(start, box),
                "end": _time(end, box),
                "showAs": show_as,
            }
            if recurrence is not None:
                body["recurrence"] = recurrence
            calendar = calendar_id or box.default_calendar.id
            if calendar not in box.calendars:
                raise KeyError(f"no calendar {calendar} in {mailbox}")
            event = new_event(calendar, parse_changes(body, creating=True))
            return store.insert(box, event).id

    def edit_event(self, mailbox: str, event_id: str, **fields: Any) -> None:
        """Change an event as staff would (new changeKey); snake_case names are accepted."""
        store = self._state.store
        with store.lock:
            box = store.resolve(mailbox)
            event = box.events[event_id]
            body = {
                _camel(k): (_time(v, box) if isinstance(v, datetime) else v)
                for k, v in fields.items()
            }
            apply_changes(event, parse_changes(body, creating=False))
            store.changed(box, event)

    def deleted_events(self, mailbox: str) -> list[str]:
        """Ids of the mailbox's events in Deleted Items."""
        store = self._state.store
        with store.lock:
            box = store.resolve(mailbox)
            return [e.id for e in box.events.values() if box.is_deleted(e)]

    def delete_event_by_hand(self, mailbox: str, event_id: str) -> None:
        """Delete an event as staff would in Outlook: it moves to Deleted Items."""
        store = self._state.store
        with store.lock:
            box = store.resolve(mailbox)
            store.remove(box, box.events[event_id])

    # -- change notifications ---------------------------------------------------------

    @property
    def subscription_max_minutes(self) -> int:
        return self._state.subscription_max_minutes

    @subscription_max_minutes.setter
    def subscription_max_minutes(self, value: int) -> None:
        self._state.subscription_max_minutes = value

    def subscriptions(self) -> list[dict[str, Any]]:
        """The live subscriptions, as GET /subscriptions shows them."""
        state = self._state
        return [s.render(state.graph_url) for s in subscriptions.live(state).values()]

    @property
    def notifications(self) -> list[Delivery]:
        """Every validation, change and lifecycle POST the double made, oldest first."""
        return list(self._state.notifier.deliveries)

    def deliver_notifications(self, timeout: float = 10.0) -> list[Delivery]:
        """Wait until every queued change notification was delivered or given up.

        Delivery is automatic (see tests/graph/notifier.py); this only waits for it.
        Returns the change deliveries made since the previous call, so a POST that
        went out before this call began is not missed.
        """
        deadline = time.monotonic() + timeout
        while not self._state.notifier.idle():
            if time.monotonic() > deadline:
                raise TimeoutError("change notifications are still being delivered")
            time.sleep(0.01)
        return [d for d in self._state.notifier.new_deliveries() if d.kind == "change"]

    def lifecycle(self, subscription_id: str, event: str) -> Delivery:
        """Send a lifecycle notification now (subscriptionRemoved also removes the subscription)."""
        if event not in subscriptions.LIFECYCLE_EVENTS:
            raise ValueError(
                f"lifecycle event must be one of {sorted(subscriptions.LIFECYCLE_EVENTS)}"
            )
        state = self._state
        found = state.subscriptions[subscription_id]
        if found.lifecycle_url is None:
            raise ValueError("the subscription has no lifecycleNotificationUrl")
        payload = subscriptions.lifecycle_notification(found, event, state.directory.tenant_id)
        if event == "subscriptionRemoved":
            state.subscriptions.pop(subscription_id, None)
        elif event == "reauthorizationRequired":
            found.needs_reauthorization = True
        delivery: Delivery = state.notifier.run(
            state.notifier.post("lifecycle", found.lifecycle_url, payload)
        )
        return delivery

    def expire_delta_tokens(self) -> None:
        """Forget every delta and skip token: the next use of one is 410 syncStateNotFound."""
        self._state.delta.expire()


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m[1].upper(), name)


def _time(value: datetime | dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    if isinstance(value, dict):
        return value
    if value.tzinfo is None:
        return {"dateTime": format_graph_time(value), "timeZone": mailbox.timezone}
    local = value.astimezone(resolve_zone(mailbox.timezone))
    return {"dateTime": format_graph_time(local), "timeZone": mailbox.timezone}
