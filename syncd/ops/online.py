"""`syncd check --online`: does each calendar account answer and take its credentials?

Every connector is asked at once (one cheap request each, `Connector.check`);
every failure is reported with its key path. Messages come from syncd's own
errors, which name a method, a path and a status, never a secret.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from connectors import build_connector
from connectors.base import Connector
from syncd.errors import AuthError, ConfigError, RemoteError, RemoteNotFound, TransientError

CHECK_TIMEOUT_SECONDS = 60.0  # beyond the connectors' own request timeouts


def connector_problems(tables: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per account that is unreachable or refuses its credentials.

    Accounts whose table does not even build are left out: the offline check
    already reports them."""
    built = {}
    for name, table in tables.items():
        try:
            built[name] = build_connector(table)
        except ConfigError:
            continue
    return asyncio.run(_check_all(built))


async def _check_all(connectors: Mapping[str, Connector]) -> list[str]:
    answers = await asyncio.gather(*(_check_one(n, c) for n, c in connectors.items()))
    return [answer for answer in answers if answer is not None]


async def _check_one(name: str, connector: Connector) -> str | None:
    try:
        await asyncio.wait_for(connector.check(), CHECK_TIMEOUT_SECONDS)
    except NotImplementedError:
        return None  # a kind that cannot be checked online is no problem of the account's
    except TimeoutError:
        return f"connectors.{name}: no answer within {CHECK_TIMEOUT_SECONDS:g}s"
    except RemoteError as error:
        return f"connectors.{name}: {describe(error)}"
    finally:
        await connector.aclose()
    return None


def describe(error: RemoteError) -> str:
    if isinstance(error, AuthError):
        return f"authentication failed ({error})"
    if isinstance(error, TransientError):
        return f"unreachable ({error})"
    if isinstance(error, RemoteNotFound):
        return f"nothing at the configured url ({error})"
    return f"refused ({error})"
