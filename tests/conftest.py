from __future__ import annotations

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
