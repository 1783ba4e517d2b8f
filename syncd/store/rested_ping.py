"""Ping a pooled PostgreSQL connection before use only when it has rested a while.

A connection the server dropped (a restart, an idle-session timeout) must be
replaced, not used: SQLAlchemy's `pool_pre_ping` pings on every checkout, which
is a round trip per transaction, about a fifth of the CPU of a short one here
(bench/scale.py). A connection checked in a moment ago was alive then; one that
rested longer is pinged, and a failed ping makes the pool replace it
(`DisconnectionError` from a checkout listener, SQLAlchemy's documented way).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

# Short against any restart: a server down and back within this long after a
# connection's last use is the one case a ping would have caught and this does not.
PING_AFTER_SECONDS = 1.0
_RESTED_SINCE = "syncd_rested_since"


def ping_rested_connections(engine: Engine) -> None:
    """Install the checkout ping and the check-in stamp it reads on `engine`'s pool."""
    dialect = engine.dialect

    def stamp(_dbapi_connection: Any, entry: ConnectionPoolEntry) -> None:
        entry.info[_RESTED_SINCE] = time.monotonic()

    def ping_if_rested(
        dbapi_connection: Any, entry: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        since = entry.info.pop(_RESTED_SINCE, None)
        if since is not None and time.monotonic() - since < PING_AFTER_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # whatever the driver raises for a dead connection
            raise DisconnectionError("pooled connection did not answer a ping") from error

    event.listen(engine, "checkin", stamp)
    event.listen(engine, "checkout", ping_if_rested)
