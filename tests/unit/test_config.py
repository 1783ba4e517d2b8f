from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import apply_env_overrides, load_config
from syncd.errors import ConfigError


def test_defaults_are_the_embedded_sqlite() -> None:
    settings = load_config(None, environ={})
    assert settings.database.url.startswith("sqlite:///")
    assert settings.log.format == "text"


def test_environment_overrides_nested_keys_with_toml_values() -> None:
    raw = apply_env_overrides({}, {
        "SYNCD_DATABASE__URL": "postgresql://db/syncd",
        "SYNCD_WORKER__MAX_ATTEMPTS": "20",
        "SYNCD_API_KEY": "not-an-override",
    })
    assert raw == {"database": {"url": "postgresql://db/syncd"}, "worker": {"max_attempts": 20}}


def test_missing_file_and_broken_toml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[database\nurl=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, environ={})


def test_example_and_demo_configurations_are_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    for name in ("syncd.example.toml", "demo.toml"):
        load_config(root / "config" / name, environ={})
