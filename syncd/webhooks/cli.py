"""`syncd webhooks list [--failed]`, `syncd webhooks redeliver ID`, and what `check --online`
shows of the subscriptions. Secrets are never printed; passwords in URLs are masked.
"""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy.orm import Session

from syncd.errors import ConfigError, InputError, NotFound
from syncd.runtime import Runtime
from syncd.store import schema
from syncd.store.db import create_db_engine, session_factory
from syncd.webhooks import subscriptions as subs
from syncd.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription
from syncd.webhooks.views import shown_url

FAILED_SHOWN = 500


def add_commands(commands: Any) -> None:
    """Add `webhooks list` and `webhooks redeliver` to the `syncd` subcommands."""
    webhooks = commands.add_parser("webhooks", help="webhook subscriptions and deliveries")
    actions = webhooks.add_subparsers(dest="webhooks", required=True)
    listing = actions.add_parser("list", help="subscriptions, with pending and failed counts")
    listing.add_argument("--failed", action="store_true", help="list failed deliveries instead")
    again = actions.add_parser("redeliver", help="send a delivery again, with its webhook-id")
    again.add_argument("delivery", type=int, help="the delivery's id, as `list --failed` shows")


def run(runtime: Runtime, args: argparse.Namespace) -> int:
    if not schema.is_current(runtime.engine):
        raise ConfigError(["database.url: schema is not current; run `syncd db upgrade`"])
    with runtime.sessions.begin() as session:
        if args.webhooks == "redeliver":
            lines = [_redeliver(session, args.delivery)]
        elif args.failed:
            lines = failed_lines(session)
        else:
            lines = subscription_lines(session)
    print("\n".join(lines))
    return 0


def _redeliver(session: Session, delivery_id: int) -> str:
    try:
        delivery = subs.get_delivery(session, delivery_id)
    except NotFound:
        raise InputError({"delivery": f"no webhook delivery has id {delivery_id}"}) from None
    subs.redeliver(session, delivery)
    return f"delivery {delivery.id} ({delivery.message_id}) queued again"


def subscription_lines(session: Session) -> list[str]:
    found = subs.all_subscriptions(session)
    counts = subs.delivery_counts(session, [s.id for s, _ in found])
    lines = [f"webhook subscriptions: {len(found)}"]
    for subscription, merchant_key in found:
        count = counts[subscription.id]
        lines.append(
            f"  {merchant_key}/{subscription.key} {shown_url(subscription.url)} "
            f"{_enabled(subscription)} events={','.join(subscription.event_types)} "
            f"pending={count.pending} failed={count.failed}"
        )
    return lines


def _enabled(subscription: WebhookSubscription) -> str:
    if subscription.enabled:
        return "enabled"
    return f"disabled ({subscription.disabled_reason})"


def failed_lines(session: Session) -> list[str]:
    names = {s.id: f"{m}/{s.key}" for s, m in subs.all_subscriptions(session)}
    failed = WebhookDelivery.state == DeliveryState.FAILED
    found = subs.deliveries(session, [failed], 0, FAILED_SHOWN)
    shown = found[:FAILED_SHOWN]
    lines = [f"failed webhook deliveries: {len(shown)}"]
    lines += [_failed_line(d, names[d.subscription_id]) for d in shown]
    if len(found) > len(shown):
        lines.append(f"  (only the first {FAILED_SHOWN} are shown)")
    return lines


def _failed_line(delivery: WebhookDelivery, subscription: str) -> str:
    when = delivery.last_attempt_at.isoformat() if delivery.last_attempt_at else "never"
    return (
        f"  {delivery.id} {subscription} {delivery.event_type} {delivery.message_id} "
        f"attempts={delivery.attempts} last={when} error={delivery.last_error}"
    )


def check_lines(database_url: str) -> list[str]:
    """The subscriptions, read from the (reachable, current) database for `syncd check`."""
    engine = create_db_engine(database_url)
    try:
        with session_factory(engine).begin() as session:
            return subscription_lines(session)
    finally:
        engine.dispose()

