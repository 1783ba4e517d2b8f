"""The CalDAV server families syncd is tested on, and what each of them does differently.

Radicale and Xandikos come with the test dependencies; Cyrus and DAViCal are
Debian packages (.ci/run installs them). Where one is missing the tests using
it are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.dbs import unavailable
from tests.servers import DavServer, RadicaleServer, XandikosServer
from tests.servers_cyrus import CyrusServer, cyrus_missing
from tests.servers_davical import DavicalServer, davical_missing


@dataclass(frozen=True)
class Capabilities:
    """How a server family behaves where servers legitimately differ."""

    # a UID is unique per calendar home (Cyrus) rather than per collection
    home_wide_uids: bool = False
    # a second object with an existing UID under another href is refused
    refuses_duplicate_uid: bool = True
    # an unknown sync-token is refused (403 valid-sync-token) rather than taken as a delta
    refuses_unknown_sync_token: bool = True


@dataclass(frozen=True)
class Family:
    name: str
    server: Callable[[Path], DavServer]
    capabilities: Capabilities
    missing: Callable[[], str | None] = lambda: None


FAMILIES = {
    "radicale": Family("radicale", RadicaleServer, Capabilities()),
    "xandikos": Family("xandikos", XandikosServer, Capabilities()),
    "cyrus": Family("cyrus", CyrusServer, Capabilities(home_wide_uids=True), cyrus_missing),
    "davical": Family(
        "davical", DavicalServer,
        Capabilities(refuses_duplicate_uid=False, refuses_unknown_sync_token=False),
        davical_missing,
    ),
}


def require(family: Family) -> None:
    """Skip the test when the family's server is not installed; under CI=true fail it."""
    reason = family.missing()
    if reason is not None:
        unavailable(reason)


def start(name: str, data_dir: Path) -> DavServer:
    """A running server of family `name` (skipped or failed where it is not installed)."""
    family = FAMILIES[name]
    require(family)
    server = family.server(data_dir)
    server.start()
    return server
