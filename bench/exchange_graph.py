"""syncd's Graph send alone against a raw httpx send: CPU per $batch item, in one process.

    .venv/bin/python bench/exchange_graph.py [--per-mailbox 400] [--rounds 2]

Both sides send the same create $batches (bench/raw_graph.py's items, 20 a batch, one
batch in flight per mailbox, 16 mailboxes at once) to the Graph double, taking turns:
the raw side with `client.post(json=...)` on a client carrying the token (raw_graph's
loop), syncd's with `GraphHttp.exchange` on `new_graph_client` (per-request headers,
its own JSON encoding, absolute URL, answer headers read). No store, no worker, no
batcher: what is left is the exchange, so a ratio near 1 says the send itself is no
dearer than the raw loop's and the worker's excess lies elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.mirror_m365 import DoubleProcess
from bench.raw_graph import BATCH, create_item, token
from connectors.m365.http import (
    GraphHttp,
    GraphRequest,
    graph_limits,
    graph_timeout,
    new_graph_client,
)
from connectors.m365.settings import Settings
from tests.m365.support import connector_table

MAILBOXES = 16
Send = Callable[[list[dict[str, Any]]], Awaitable[None]]


def raw_sender(double: Any, verify: ssl.SSLContext, bearer: str, settings: Settings) -> Send:
    client = httpx.AsyncClient(
        base_url=double.graph_url, verify=verify, headers={"Authorization": f"Bearer {bearer}"},
        limits=graph_limits(settings), timeout=graph_timeout(settings),
    )

    async def send(items: list[dict[str, Any]]) -> None:
        (await client.post("/$batch", json={"requests": items})).json()

    return send


def syncd_sender(double: Any, verify: ssl.SSLContext, bearer: str, settings: Settings) -> Send:
    http = GraphHttp(new_graph_client(settings, verify), double.graph_url)

    async def send(items: list[dict[str, Any]]) -> None:
        await http.exchange(GraphRequest("POST", "/$batch", body={"requests": items}), bearer)

    return send


async def cpu_ms_per_item(double: Any, side: str, prefix: str, per_mailbox: int) -> float:
    verify = ssl.create_default_context(cafile=double.ca_file)
    settings = Settings.model_validate(connector_table(double))
    make = raw_sender if side == "raw" else syncd_sender
    send = make(double, verify, token(double, verify), settings)
    upns = [f"{prefix}{i}@contoso.test" for i in range(MAILBOXES)]
    for upn in upns:
        double.add_mailbox(upn)
    items = {upn: [create_item(i, upn, prefix) for i in range(per_mailbox)] for upn in upns}

    async def mailbox(upn: str) -> None:
        for first in range(0, per_mailbox, BATCH):
            await send(items[upn][first : first + BATCH])

    started = time.process_time()
    await asyncio.gather(*(mailbox(upn) for upn in upns))
    return (time.process_time() - started) * 1000 / (MAILBOXES * per_mailbox)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-mailbox", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with DoubleProcess(0.0) as double:
        for round_no in range(args.rounds):
            figures = {
                side: asyncio.run(cpu_ms_per_item(double, side, f"{side}{round_no}x",
                                                  args.per_mailbox))
                for side in ("raw", "syncd")
            }
            print(f"round {round_no + 1}: raw {figures['raw']:.3f} ms/item  syncd exchange "
                  f"{figures['syncd']:.3f} ms/item  ratio {figures['syncd'] / figures['raw']:.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()
