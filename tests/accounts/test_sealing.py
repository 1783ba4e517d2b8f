"""Stored credentials are sealed: a copy of the database alone reveals none, keys rotate,
and a wrong key fails with words that name no secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import text

from syncd import commands
from syncd.cli import main
from syncd.config import Settings
from syncd.errors import ConfigError
from syncd.runtime import Runtime
from syncd.store import accounts
from syncd.store.models import Merchant
from syncd.store.sealing import Sealer, SealError, new_key
from syncd.wiring import build_runtime
from tests import factories as f

PASSWORD = "correct horse battery staple"


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(Settings.model_validate({"database": {"url": database_url}}))
    yield runtime
    runtime.close()


def _store(runtime: Runtime, key: str, sealed: str) -> None:
    change = accounts.AccountChange(
        "caldav", {"kind": "caldav", "url": "https://dav.example/", "username": "alice"}, sealed
    )
    with runtime.sessions.begin() as session:
        shop = session.query(Merchant).filter_by(key="acme").one_or_none() or f.merchant(session)
        accounts.upsert_account(session, shop, key, change)


def _stored_columns(runtime: Runtime) -> list[str]:
    """Every text the table holds, as a copy of the database would show it."""
    with runtime.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM connector_accounts")).all()
    return [str(value) for row in rows for value in row]


def test_a_copy_of_the_database_alone_reveals_no_password(runtime: Runtime) -> None:
    key = new_key()
    _store(runtime, "alice", Sealer([key]).seal(PASSWORD))
    stored = _stored_columns(runtime)
    assert not any(PASSWORD in value for value in stored)
    sealed = next(value for value in stored if value.startswith("gAAAA"))  # a Fernet token
    with pytest.raises(SealError) as refused:
        Sealer([new_key()]).open(sealed)
    assert PASSWORD not in str(refused.value)
    assert Sealer([key]).open(sealed) == PASSWORD


def test_rotation_reseals_under_the_first_key_and_names_what_no_key_opens(
    runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new, lost = new_key(), new_key(), new_key()
    _store(runtime, "alice", Sealer([old]).seal(PASSWORD))
    _store(runtime, "bob", Sealer([lost]).seal("bob's"))
    runtime.settings.keys.encryption_keys_env = "TEST_KEYS"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_KEYS", f"{new},{old}")
        assert commands.keys_rotate(runtime) == 1
    printed = capsys.readouterr()
    assert "re-encrypted with the first key: 1" in printed.out
    assert "/bob: no key opens its credential" in printed.err
    assert PASSWORD not in printed.out + printed.err
    sealed = {value for value in _stored_columns(runtime) if value.startswith("gAAAA")}
    opened = [Sealer([new]).open(value) for value in sealed if _opens(new, value)]
    assert opened == [PASSWORD]  # alice's, under the new key alone now
    assert not any(_opens(old, value) for value in sealed)


def _opens(key: str, sealed: str) -> bool:
    try:
        Fernet(key).decrypt(sealed.encode())
    except InvalidToken:
        return False
    return True


def test_keys_are_read_comma_or_newline_separated_and_a_malformed_one_is_named() -> None:
    first, second = new_key(), new_key()
    settings = Settings.model_validate({"keys": {"encryption_keys_env": "TEST_KEYS"}})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_KEYS", f"{first}\n{second},")
        assert settings.keys.encryption_keys() == [first, second]
        patch.setenv("TEST_KEYS", f"{first},not-a-key")
        with pytest.raises(ConfigError) as malformed:
            Sealer(settings.keys.encryption_keys())
        assert "key 2 is not a Fernet key" in str(malformed.value.problems)
        assert "not-a-key" not in str(malformed.value.problems)
        patch.delenv("TEST_KEYS")
        with pytest.raises(ConfigError, match="TEST_KEYS is not set"):
            settings.keys.encryption_keys()


def test_a_change_bumps_the_version_and_the_same_settings_do_not(runtime: Runtime) -> None:
    sealer = Sealer([new_key()])
    _store(runtime, "alice", sealer.seal(PASSWORD))
    settings = {"kind": "caldav", "url": "https://dav.example/", "username": "alice"}
    with runtime.sessions.begin() as session:
        shop = f.merchant(session)
        same = accounts.AccountChange("caldav", settings)
        account, created = accounts.upsert_account(session, shop, "alice", same)
        assert (account.version, created) == (1, False)
        moved = accounts.AccountChange("caldav", settings | {"url": "https://other.example/"})
        assert accounts.upsert_account(session, shop, "alice", moved)[0].version == 2
        resealed = accounts.AccountChange("caldav", settings, sealer.seal("new password"))
        assert accounts.upsert_account(session, shop, "alice", resealed)[0].version == 3


def test_keys_generate_prints_a_key_that_seals(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "generate"]) == 0
    key = capsys.readouterr().out.strip()
    assert Sealer([key]).open(Sealer([key]).seal(PASSWORD)) == PASSWORD
