"""The process's connectors by registry name: the configured ones (`[connectors.<name>]`)
and the accounts stored as data (`account.<id>`, syncd/store/accounts.py).

Configured connectors are built together on first use, as they always were. A
stored account's connector is built from an in-memory snapshot of the table
(id → version, kind, settings, sealed credential) when first looked up, and:

- `refresh()` reloads the snapshot (one query of ids and versions, then only the
  rows whose version changed); an account changed or removed has its connector
  closed, and the next lookup builds it anew;
- `refresh_if_changed()`, the periodic look, first reads one row (the accounts'
  count and sums of ids and versions) and reloads only when it moved: a thousand
  accounts are not read every two seconds to find that nothing changed;
- an account not looked up for `accounts.idle_close_seconds` has its connector
  closed and dropped, so that a thousand idle accounts hold no HTTP client.

A stored account that cannot be built (its credential opens with no key, its
settings no longer validate) is left out of the mapping, logged once per
version without its secret: the worker pauses its bindings as unconfigured.
A Microsoft 365 account is built from its own fields over its app registration's
table as configured now (syncd/config/stored_accounts.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy.orm import sessionmaker

from connectors import build_account, build_connector
from connectors.base import Connector
from syncd.config import Settings
from syncd.config.stored_accounts import connector_settings
from syncd.errors import ConfigError
from syncd.store import accounts
from syncd.store.accounts import StoredAccount, account_id_of, registry_name
from syncd.store.sealing import Sealer, SealError
from syncd.store.session import SyncdSession

log = logging.getLogger("syncd.accounts")


class SealedCredential:
    """A stored account's secret, opened when the connector reads it; a change the
    connector makes (a refreshed token cache) is sealed and stored at once."""

    def __init__(self, sealer: Callable[[], Sealer], sealed: str | None,
                 persist: Callable[[str], None]) -> None:
        self._sealer = sealer
        self._sealed = sealed
        self._persist = persist

    def read(self) -> str | None:
        return None if self._sealed is None else self._sealer().open(self._sealed)

    def write(self, secret: str) -> None:
        """Blocks on the database: call it from a thread, not the event loop."""
        self._sealed = self._sealer().seal(secret)
        self._persist(self._sealed)


@dataclass
class _Built:
    connector: Connector
    version: int
    last_used: float


class ConnectorRegistry(Mapping[str, Connector]):
    """`Mapping[str, Connector]` over configured and stored accounts; see the module."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[SyncdSession],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._clock = clock
        self._configured: dict[str, Connector] | None = None
        self._snapshot: dict[int, StoredAccount] = {}
        self._built: dict[int, _Built] = {}
        self._broken: dict[int, int] = {}  # id → the version that would not build
        self._fingerprint: tuple[int, int, int] | None = None  # the snapshot's, as read
        self._retired: list[Connector] = []
        self._sealer: Sealer | None = None
        self._refreshing = asyncio.Lock()

    # -- the Mapping --------------------------------------------------------------------

    def __getitem__(self, name: str) -> Connector:
        account_id = account_id_of(name)
        if account_id is None:
            return self.configured[name]
        built = self._account(account_id)
        if built is None:
            raise KeyError(name)
        built.last_used = self._clock()
        return built.connector

    def __iter__(self) -> Iterator[str]:
        yield from self.configured
        yield from (registry_name(account_id) for account_id in self._snapshot)

    def __len__(self) -> int:
        return len(self.configured) + len(self._snapshot)

    @property
    def configured(self) -> dict[str, Connector]:
        if self._configured is None:
            self._configured = {
                name: build_connector(table) for name, table in self._settings.connectors.items()
            }
        return self._configured

    def replace_configured(self, connectors: Mapping[str, Connector]) -> None:
        """Other connectors under the configured names (tests, benchmarks)."""
        self._configured = dict(connectors)

    def kind(self, name: str) -> str:
        account_id = account_id_of(name)
        if account_id is None:
            return str(self._settings.connectors.get(name, {}).get("kind", "unknown"))
        stored = self._snapshot.get(account_id)
        return "unknown" if stored is None else stored.kind

    def open_accounts(self) -> int:
        """How many stored accounts have a connector built now."""
        return len(self._built)

    # -- stored accounts ----------------------------------------------------------------

    def _account(self, account_id: int) -> _Built | None:
        stored = self._snapshot.get(account_id)
        if stored is None or self._broken.get(account_id) == stored.version:
            return None
        built = self._built.get(account_id)
        if built is None:
            built = self._build(stored)
        return built

    def _build(self, stored: StoredAccount) -> _Built | None:
        credential = SealedCredential(
            self.sealer, stored.sealed_credential, lambda sealed: self._persist(stored.id, sealed)
        )
        try:
            raw = connector_settings(stored.settings, self._settings.connectors)
            connector = build_account(raw, credential)
        except (ConfigError, SealError, ValidationError, ValueError) as error:
            self._broken[stored.id] = stored.version
            log.warning("account %s cannot be used: %s", stored.id, _described(error))
            return None
        built = self._built[stored.id] = _Built(connector, stored.version, self._clock())
        return built

    def sealer(self) -> Sealer:
        if self._sealer is None:
            self._sealer = Sealer(self._settings.keys.encryption_keys())
        return self._sealer

    def _persist(self, account_id: int, sealed: str) -> None:
        with self._sessions.begin() as session:
            accounts.store_credential(session, account_id, sealed)

    async def refresh(self) -> bool:
        """Reload the snapshot; close what changed, was removed, or sat idle too long.
        Whether any account was added, changed or removed."""
        async with self._refreshing:
            return await self._refresh(await asyncio.to_thread(self._read_changes))

    async def refresh_if_changed(self) -> bool:
        """`refresh()`, when the stored accounts' fingerprint moved since the last one;
        idle accounts are closed either way."""
        async with self._refreshing:
            return await self._refresh(await asyncio.to_thread(self._read_if_changed))

    async def _refresh(self, read: tuple[set[int], list[StoredAccount]] | None) -> bool:
        changed = False
        if read is not None:
            present, stale = read
            changed = bool(stale or self._snapshot.keys() - present)
            self._apply(present, stale)
        self._retire_idle()
        await self._close_retired()
        return changed

    def _read_if_changed(self) -> tuple[set[int], list[StoredAccount]] | None:
        with self._sessions.begin() as session:
            if self._fingerprint is not None and accounts.fingerprint(session) == self._fingerprint:
                return None
        return self._read_changes()

    def _read_changes(self) -> tuple[set[int], list[StoredAccount]]:
        with self._sessions.begin() as session:
            versions = accounts.versions(session)
            stale = [i for i, v in versions.items() if self._version(i) != v]
            found = set(versions), accounts.stored_accounts(session, stale) if stale else []
        self._fingerprint = accounts.fingerprint_of(versions)
        return found

    def _version(self, account_id: int) -> int | None:
        stored = self._snapshot.get(account_id)
        return None if stored is None else stored.version

    def _apply(self, present: set[int], changed: list[StoredAccount]) -> None:
        for account_id in [i for i in self._snapshot if i not in present]:
            del self._snapshot[account_id]
            self._retire(account_id)
        for stored in changed:
            self._snapshot[stored.id] = stored
            self._retire(stored.id)
            self._broken.pop(stored.id, None)

    def _retire(self, account_id: int) -> None:
        built = self._built.pop(account_id, None)
        if built is not None:
            self._retired.append(built.connector)

    def _retire_idle(self) -> None:
        idle_since = self._clock() - self._settings.accounts.idle_close_seconds
        for account_id in [i for i, b in self._built.items() if b.last_used < idle_since]:
            self._retire(account_id)

    async def _close_retired(self) -> None:
        retired, self._retired = self._retired, []
        await _close_all(retired)

    async def aclose(self) -> None:
        configured, self._configured = self._configured, None
        built, self._built = self._built, {}
        await _close_all([*(configured or {}).values(), *(b.connector for b in built.values())])
        await self._close_retired()


async def _close_all(connectors: list[Connector]) -> None:
    results = await asyncio.gather(*(c.aclose() for c in connectors), return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            log.warning("closing a connector failed: %s", type(result).__name__)


def _described(error: Exception) -> str:
    """What went wrong, in words that carry no secret: validation errors name fields only."""
    if isinstance(error, ValidationError):
        fields = sorted({".".join(str(p) for p in e["loc"]) or "settings" for e in error.errors()})
        return f"invalid settings ({', '.join(fields)})"
    if isinstance(error, ConfigError):
        return "; ".join(error.problems)
    return str(error)
