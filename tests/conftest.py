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
