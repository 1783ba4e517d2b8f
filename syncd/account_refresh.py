"""The `accounts` service, in every syncd process (run, worker and web alike): keeps the
process's connector registry in step with the stored accounts.

It refreshes at once when woken: by a commit of this process that changed an
account, or on PostgreSQL by the NOTIFY `syncd_accounts` such a commit sends to
every other process. Every `accounts.refresh_seconds` it looks too, the net for
wake-ups lost, reading the accounts' one-row fingerprint first and every
version only when that moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from syncd.background import first_of
from syncd.runtime import Runtime
from syncd.store.accounts import ACCOUNTS_CHANNEL
from syncd.store.listen import listen_for_wakeups
from syncd.store.outage import Backoff, outage_or_raise

log = logging.getLogger("syncd.accounts")


class AccountRefresher:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def run(self, stop: asyncio.Event) -> None:
        woken = asyncio.Event()
        self.runtime.account_waker.attach(asyncio.get_running_loop(), woken)
        listener = self._listener(stop)
        try:
            await self._refresh_until(stop, woken)
        finally:
            self.runtime.account_waker.detach(woken)
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    def _listener(self, stop: asyncio.Event) -> asyncio.Task[None] | None:
        if self.runtime.engine.dialect.name != "postgresql":
            return None
        url, waker = self.runtime.settings.database.url, self.runtime.account_waker
        return asyncio.create_task(listen_for_wakeups(url, waker, stop, ACCOUNTS_CHANNEL))

    async def _refresh_until(self, stop: asyncio.Event, woken: asyncio.Event) -> None:
        backoff = Backoff("accounts")
        every = self.runtime.settings.accounts.refresh_seconds
        registry, told = self.runtime.connectors, True  # the first look reads everything
        while not stop.is_set():
            woken.clear()
            try:
                changed = await (registry.refresh() if told else registry.refresh_if_changed())
            except Exception as error:
                await backoff.wait(outage_or_raise(error), stop)
                told = True
                continue
            backoff.recovered()
            if changed:
                self.runtime.waker.wake()  # the worker: bindings of a changed account, at once
            told = await first_of([woken, stop], every)
