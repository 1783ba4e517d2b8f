"""A production install has no embedded Radicale: asking for one says which extra to install."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd import embedded
from syncd.config import EmbeddedSettings
from syncd.errors import ConfigError


def test_an_install_without_the_embedded_extra_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "EMBEDDED_MODULES", ("radicale", "syncd_no_such_module"))
    server = embedded.EmbeddedRadicale(
        EmbeddedSettings(radicale=True, data_dir=str(tmp_path / "radicale"))
    )
    with pytest.raises(ConfigError, match=r"syncd_no_such_module not installed.*syncd\[embedded\]"):
        server.start()
    assert server.process is None
    assert not (tmp_path / "radicale" / "password").exists()  # nothing half-made
