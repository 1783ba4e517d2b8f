from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest


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
