"""The baseline of bench/mirror_m365.py: a bare httpx loop sending the same $batch requests.

No store, no worker, no connector: one app-only token from the double's token
endpoint, then per mailbox its bookings' creates as JSON batches of 20, one
batch in flight per mailbox (syncd's batcher sends one at a time too, and a
batch of 20 fills Outlook's 4 request slots), every mailbox at once, on one
client with the pool limits and timeouts of syncd's Graph client (the same
settings). The request bodies are the ones syncd sends (connectors.m365.events),
so the double does the same work.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from datetime import timedelta
from typing import Any

import httpx

from connectors.base import EventSpec
from connectors.m365 import events
from connectors.m365.http import graph_limits, graph_timeout
from connectors.m365.settings import Settings
from tests import factories as f
from tests.m365.support import connector_table

BATCH = 20
SCOPE = "https://graph.microsoft.com/.default"


def token(double: Any, verify: ssl.SSLContext) -> str:
    answer = httpx.post(
        f"{double.base_url}/{double.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": double.client_id,
            "client_secret": double.client_secret,
            "scope": SCOPE,
        },
        verify=verify,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def create_item(index: int, upn: str, prefix: str) -> dict[str, Any]:
    start = f.slot(index)
    spec = EventSpec(
        booking_key=f"{prefix}-{upn}-{index}",
        summary="Haircut: Customer",
        start=start,
        end=start + timedelta(minutes=30),
        timezone="Europe/Berlin",
        sequence=0,
        description="Service: Haircut",
    )
    body = {
        **events.event_body(spec, events.Reminder(enabled=True, minutes=15)),
        "transactionId": events.transaction_id(upn, spec.booking_key),
    }
    return {
        "id": str(index % BATCH),
        "method": "POST",
        "url": f"/users/{upn}/calendar/events",
        "headers": {"Content-Type": "application/json", "Prefer": events.PREFER},
        "body": body,
    }


RESENDS = 3  # a connection the server dropped (its keep-alive ended, or it was overloaded)


async def _post_batch(client: httpx.AsyncClient, items: list[dict[str, Any]]) -> httpx.Response:
    """The batch's answer; sent again (as syncd does) when no answer came."""
    for _ in range(RESENDS):
        try:
            return await client.post("/$batch", json={"requests": items})
        except httpx.TransportError:
            continue
    return await client.post("/$batch", json={"requests": items})


async def _mailbox(client: httpx.AsyncClient, upn: str, bookings: int, prefix: str) -> None:
    items = [create_item(i, upn, prefix) for i in range(bookings)]
    for first in range(0, len(items), BATCH):
        answer = await _post_batch(client, items[first : first + BATCH])
        statuses = {r["status"] for r in answer.json()["responses"]}
        if answer.status_code != 200 or statuses != {201}:
            raise RuntimeError(f"raw loop: batch {answer.status_code}, items {statuses}")


async def _all(double: Any, upns: list[str], bookings: int, prefix: str) -> float:
    verify = ssl.create_default_context(cafile=double.ca_file)
    headers = {"Authorization": f"Bearer {token(double, verify)}"}
    settings = Settings.model_validate(connector_table(double))
    async with httpx.AsyncClient(
        base_url=double.graph_url,
        verify=verify,
        headers=headers,
        limits=graph_limits(settings),
        timeout=graph_timeout(settings),
    ) as client:
        started = time.perf_counter()
        await asyncio.gather(*(_mailbox(client, upn, bookings, prefix) for upn in upns))
        return time.perf_counter() - started


def raw_loop(double: Any, upns: list[str], bookings: int, prefix: str) -> float:
    """Seconds the bare loop takes to create `bookings` events in each mailbox."""
    return asyncio.run(_all(double, upns, bookings, prefix))
