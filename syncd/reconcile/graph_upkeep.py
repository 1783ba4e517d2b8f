"""Keeping each Microsoft 365 calendar's subscription alive, in the worker, under its lease.

Run before a calendar's due reconcile pass (the Watcher's upkeep step), so it
shares the pass's lease and the mailbox's request limits, and costs one
database read when there is nothing to do:

    no subscription, or it expired, or Graph removed it   POST /subscriptions (a new
                                                          clientState; only its hash is kept)
    expiring within renew_before_minutes, or Graph asked  PATCH its expiry (Graph no longer
    for reauthorization                                   has it: a new one)
    Graph missed notifications                            the pass lists the whole window

A failure here never holds back the pass: polling is the safety net. It is
recorded on the row and tried again on a later pass, backing off (`retry_seconds`).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from connectors.base import Calendar
from connectors.push import ChangeSubscriptions, Endpoints
from syncd import metrics
from syncd.errors import RemoteError, RemoteNotFound
from syncd.reconcile import graph_subscriptions as store
from syncd.reconcile.graph_settings import GraphNotificationSettings
from syncd.store.dbthread import DatabaseThreads
from syncd.timeutil import utcnow

log = logging.getLogger("syncd.reconcile")
# a failed create or renewal is tried again on a later pass, after 5 min, 10, 20, ... 6 h
RETRY_BASE_SECONDS = 300.0
RETRY_MAX_SECONDS = 6 * 3600.0


def retry_seconds(failures: int) -> float:
    return min(RETRY_BASE_SECONDS * 2.0 ** min(failures - 1, 16), RETRY_MAX_SECONDS)


class GraphUpkeep:
    """The Watcher's upkeep step for calendars whose service pushes changes (Microsoft 365);
    calendars without `change_subscriptions` are left alone."""

    def __init__(self, db: DatabaseThreads, settings: GraphNotificationSettings) -> None:
        notifications, lifecycle = settings.notification_url, settings.lifecycle_url
        if notifications is None or lifecycle is None:
            raise ValueError("Graph subscriptions need reconcile.graph.public_url")
        self.db, self.settings = db, settings
        self.endpoints = Endpoints(notifications, lifecycle)

    async def __call__(self, calendar: Calendar, binding_id: int) -> None:
        subscriptions = calendar.change_subscriptions()
        if subscriptions is None:
            return
        try:
            await self._keep(subscriptions, binding_id)
        except Exception:  # a bug here must not stop the calendar's passes
            log.exception("Graph subscription upkeep failed", extra={"binding_id": binding_id})

    async def _keep(self, subscriptions: ChangeSubscriptions, binding_id: int) -> None:
        renew_before = timedelta(minutes=self.settings.renew_before_minutes)
        due = await self.db.run(store.upkeep_due, binding_id, utcnow(), renew_before)
        if due is None:
            return
        if due.resync:
            await self.db.run(store.start_over, binding_id)
        try:
            if due.action == store.SubscriptionAction.RENEW and due.subscription_id is not None:
                await self._renew(subscriptions, binding_id, due.subscription_id)
            elif due.action is not None:
                await self._create(subscriptions, binding_id)
        except RemoteError as error:
            await self._failed(binding_id, due.action, error)

    async def _create(self, subscriptions: ChangeSubscriptions, binding_id: int) -> None:
        client_state = secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(minutes=self.settings.subscription_minutes)
        made = await subscriptions.create(self.endpoints, client_state, expires)
        await self.db.run(store.record_subscription, binding_id, made.subscription_id,
                          made.expires, store.hashed(client_state))
        metrics.GRAPH_SUBSCRIPTIONS.labels("create", "ok").inc()
        log.info("Graph subscription created", extra={"binding_id": binding_id})

    async def _renew(
        self, subscriptions: ChangeSubscriptions, binding_id: int, subscription_id: str
    ) -> None:
        expires = utcnow() + timedelta(minutes=self.settings.subscription_minutes)
        try:
            renewed = await subscriptions.renew(subscription_id, expires)
        except RemoteNotFound:  # expired or removed meanwhile
            await self.db.run(store.forget_subscription, binding_id)
            await self._create(subscriptions, binding_id)
            return
        await self.db.run(store.record_subscription, binding_id, renewed.subscription_id,
                          renewed.expires, None)
        metrics.GRAPH_SUBSCRIPTIONS.labels("renew", "ok").inc()

    async def _failed(
        self, binding_id: int, action: store.SubscriptionAction | None, error: RemoteError
    ) -> None:
        message = f"{type(error).__name__}: {error}"
        retry_at = await self.db.run(
            store.record_failure, binding_id, message, utcnow(), retry_seconds
        )
        metrics.GRAPH_SUBSCRIPTIONS.labels(str(action), "failed").inc()
        log.warning("Graph subscription %s failed, polling meanwhile: %s", action, message,
                    extra={"binding_id": binding_id, "retry_at": retry_at.isoformat()})
