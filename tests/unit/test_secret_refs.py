"""One reader for every secret: syncd's own (api, mail, manage) and the connectors'."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import ConfigError
from connectors.secret_refs import SecretRef


def test_the_variable_comes_first_and_a_file_is_read_stripped(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("  from the file\n")
    ref = SecretRef("mail.password", "SMTP_PASSWORD", str(secret))
    assert ref.read({"SMTP_PASSWORD": "from the variable"}) == "from the variable"
    assert ref.read({"SMTP_PASSWORD": ""}) == "from the file"
    assert ref.require({}) == "from the file"


def test_nothing_named_reads_as_none_and_is_refused_when_required() -> None:
    ref = SecretRef("password", None, None)
    assert ref.read({}) is None
    with pytest.raises(ConfigError, match="password: not set"):
        ref.require({})


def test_every_problem_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="client_secret_env: SECRET_X is not set"):
        SecretRef("client_secret", "SECRET_X", None).require({})
    with pytest.raises(ConfigError, match=f"password_file: {tmp_path / 'gone'} does not exist"):
        SecretRef("password", None, str(tmp_path / "gone")).require({})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match=f"password_file: {empty} is empty"):
        SecretRef("password", None, str(empty)).require({})
    with pytest.raises(ConfigError, match=f"password_file: cannot read {tmp_path}"):
        SecretRef("password", None, str(tmp_path)).require({})  # a directory
