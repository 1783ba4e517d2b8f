"""Fixtures of the whole suite: real CalDAV servers, and what keeps tests apart.

The servers are shared by the session (`radicale`, `xandikos`, `cyrus`, `davical`): a
test creates collections of its own on them (tests/contract/harness.py unique_name).
A test that stops its server, loads it or counts everything on it takes one of its own
(`own_radicale`, `own_family_server`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import server_families
from tests.dbs import migrated_postgres, migrated_sqlite
from tests.servers import DavServer, RadicaleServer, XandikosServer

__all__ = ["migrated_postgres", "migrated_sqlite"]  # where each `database_url` comes from


@pytest.fixture(autouse=True)
def _mail_stays_in_the_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Daemons a test starts write the file transport's .eml files under tmp_path.

    The default mail folder is var/mail under the working directory; a test that
    runs `syncd run` or `syncd worker` from its configuration would otherwise
    leave messages in the checkout.
    """
    monkeypatch.setenv("SYNCD_MAIL__DIRECTORY", str(tmp_path / "mail"))


@pytest.fixture(autouse=True)
def _metrics_on_any_free_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Daemons a test starts listen for scrapes on a free port, not the default 9464 that
    another daemon (of this run, or of a run beside it) may hold."""
    monkeypatch.setenv("SYNCD_METRICS__PORT", "0")


@pytest.fixture(autouse=True)
def _logging_set_up_by_a_test_is_undone() -> Iterator[None]:
    """`syncd` commands run in-process point the root logger at the sys.stderr of their
    test, which pytest closes afterwards; later records would then fail to print."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    with RadicaleServer(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture(scope="session")
def xandikos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XandikosServer]:
    with XandikosServer(tmp_path_factory.mktemp("xandikos")) as server:
        yield server


@pytest.fixture(scope="session")
def cyrus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    with server_families.start("cyrus", tmp_path_factory.mktemp("cyrus")) as server:
        yield server


@pytest.fixture(scope="session")
def davical(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    with server_families.start("davical", tmp_path_factory.mktemp("davical")) as server:
        yield server


@pytest.fixture
def own_radicale(tmp_path: Path) -> Iterator[RadicaleServer]:
    """A Radicale server of the test's own, without collections."""
    with RadicaleServer(tmp_path / "radicale") as server:
        yield server


@pytest.fixture(params=sorted(server_families.FAMILIES))
def own_family_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DavServer]:
    """A server of the test's own, of each family in turn, without collections."""
    with server_families.start(request.param, tmp_path / request.param) as server:
        yield server
