"""Outlook's per-mailbox limits, kept on the client side.

Outlook allows an app 4 concurrent requests per mailbox; a JSON batch in
flight counts as min(4, items) of them, since Graph runs at most 4 of its items
against the mailbox at a time. After a 429 or 503 nothing may reach that
mailbox until its Retry-After has passed: the "not before" gate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from connectors.instrumentation import observer
from connectors.m365.settings import KIND


class MailboxLimiter:
    """Request slots and the not-before gate of one mailbox, shared by all its calendars."""

    def __init__(self, slots: int) -> None:
        self.capacity = slots
        self._free = slots
        self._freed = asyncio.Condition()
        self.not_before = 0.0  # time.monotonic() before which no request may start

    @asynccontextmanager
    async def slots(self, requests: int) -> AsyncIterator[None]:
        """Hold min(capacity, requests) slots; entered only once the gate is open."""
        wanted = min(self.capacity, max(requests, 1))
        async with self._freed:
            await self._freed.wait_for(lambda: self._free >= wanted)
            self._free -= wanted
        try:
            await self._pass_gate()
            yield
        finally:
            async with self._freed:
                self._free += wanted
                self._freed.notify_all()

    @property
    def in_use(self) -> int:
        return self.capacity - self._free

    def hold_off(self, seconds: float) -> None:
        """Close the gate for `seconds` from now (it never closes for less than it already is)."""
        self.not_before = max(self.not_before, time.monotonic() + max(seconds, 0.0))

    async def _pass_gate(self) -> None:
        # Loop: another response may push the gate further while we sleep.
        while (wait := self.not_before - time.monotonic()) > 0:
            observer(KIND).throttle_waited(wait)
            await asyncio.sleep(wait)
