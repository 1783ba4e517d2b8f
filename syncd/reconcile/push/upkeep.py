"""Keeping each calendar's change-notification subscription alive, in the worker, under its lease.

Run before a calendar's due reconcile pass (the Watcher's upkeep step), so it
shares the pass's lease and the service's request limits, and costs one
database read when there is nothing to do. Only calendars whose connector can
subscribe (`Calendar.change_subscriptions()`) and whose kind has a push feed
(served by the web handler at `/push/<kind>`) are kept; the others are polled only.

    no subscription, or it expired, or the service removed it   create one (a new
                                                                client state; only its
                                                                hash is kept)
    expiring within renew_before_minutes, or the service asked  renew it (the service
    for reauthorization                                         no longer has it: a new one)
    the service missed notifications                            the pass lists the whole window

A failure here never holds back the pass: polling is the safety net. It is
recorded on the row and tried again on a later pass, backing off (`retry_seconds`).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from connectors import push_feed
from connectors.base import Calendar
from connectors.instrumentation import observer
from connectors.push import ChangeSubscriptions, Endpoints
from syncd.config.push import PushSettings
from syncd.errors import RemoteError, RemoteNotFound
from syncd.reconcile.push import subscriptions as store
from syncd.store.dbthread import DatabaseThreads
from syncd.timeutil import utcnow

log = logging.getLogger("syncd.reconcile")
# a failed create or renewal is tried again on a later pass, after 5 min, 10, 20, ... 6 h
RETRY_BASE_SECONDS = 300.0
RETRY_MAX_SECONDS = 6 * 3600.0


def retry_seconds(failures: int) -> float:
    return min(RETRY_BASE_SECONDS * 2.0 ** min(failures - 1, 16), RETRY_MAX_SECONDS)


class PushUpkeep:
    """The Watcher's upkeep step: subscriptions for the calendars whose service pushes."""

    def __init__(self, db: DatabaseThreads, settings: PushSettings) -> None:
        if settings.public_url is None:
            raise ValueError("push subscriptions need reconcile.graph.public_url")
        self.db, self.settings = db, settings
        self._endpoints: dict[str, Endpoints | None] = {}

    async def __call__(self, calendar: Calendar, binding_id: int, connector_kind: str) -> None:
        subscriptions = calendar.change_subscriptions()
        if subscriptions is None:
            return
        try:
            endpoints = self._endpoints_of(connector_kind)
            if endpoints is not None:
                await _Keeper(self, subscriptions, endpoints, connector_kind).keep(binding_id)
        except Exception:  # a bug here must not stop the calendar's passes
            log.exception("push subscription upkeep failed",
                          extra={"binding_id": binding_id, "connector_kind": connector_kind})

    def _endpoints_of(self, kind: str) -> Endpoints | None:
        """Where `kind`'s subscriptions send notifications; None: it has no feed to serve."""
        if kind not in self._endpoints:
            feed = push_feed(kind)
            self._endpoints[kind] = None if feed is None else self.settings.endpoints(
                kind, feed.paths
            )
        return self._endpoints[kind]


class _Keeper:
    """One calendar's upkeep."""

    def __init__(self, upkeep: PushUpkeep, subscriptions: ChangeSubscriptions,
                 endpoints: Endpoints, kind: str) -> None:
        self.db, self.settings = upkeep.db, upkeep.settings
        self.subscriptions, self.endpoints, self.kind = subscriptions, endpoints, kind

    async def keep(self, binding_id: int) -> None:
        renew_before = timedelta(minutes=self.settings.renew_before_minutes)
        due = await self.db.run(store.upkeep_due, binding_id, utcnow(), renew_before)
        if due is None:
            return
        if due.resync:
            await self.db.run(store.start_over, binding_id)
        try:
            if due.action == store.SubscriptionAction.RENEW and due.subscription_id is not None:
                await self._renew(binding_id, due.subscription_id)
            elif due.action is not None:
                await self._create(binding_id)
        except RemoteError as error:
            await self._failed(binding_id, due.action, error)

    async def _create(self, binding_id: int) -> None:
        client_state = secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(minutes=self.settings.subscription_minutes)
        made = await self.subscriptions.create(self.endpoints, client_state, expires)
        await self.db.run(store.record_subscription, binding_id, made.subscription_id,
                          made.expires, store.hashed(client_state))
        observer(self.kind).subscription_kept("create", "ok")
        log.info("push subscription created", extra={"binding_id": binding_id})

    async def _renew(self, binding_id: int, subscription_id: str) -> None:
        expires = utcnow() + timedelta(minutes=self.settings.subscription_minutes)
        try:
            renewed = await self.subscriptions.renew(subscription_id, expires)
        except RemoteNotFound:  # expired or removed meanwhile
            await self.db.run(store.forget_subscription, binding_id)
            await self._create(binding_id)
            return
        await self.db.run(store.record_subscription, binding_id, renewed.subscription_id,
                          renewed.expires, None)
        observer(self.kind).subscription_kept("renew", "ok")

    async def _failed(
        self, binding_id: int, action: store.SubscriptionAction | None, error: RemoteError
    ) -> None:
        message = f"{type(error).__name__}: {error}"
        retry_at = await self.db.run(
            store.record_failure, binding_id, message, utcnow(), retry_seconds
        )
        observer(self.kind).subscription_kept(str(action), "failed")
        log.warning("push subscription %s failed, polling meanwhile: %s", action, message,
                    extra={"binding_id": binding_id, "retry_at": retry_at.isoformat()})
