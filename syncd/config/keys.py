"""The `[keys]` table: the keys that encrypt stored credentials, and the `[accounts]` table:
how soon a running process sees accounts added or changed through the API."""

from __future__ import annotations

import re

from pydantic import Field

from connectors.secret_refs import SecretRef
from syncd.config.section import Section
from syncd.errors import ConfigError

KEY_SEPARATORS = re.compile(r"[\s,]+")


class KeySettings(Section):
    """One or more Fernet keys, comma or newline separated: the first encrypts, all decrypt,
    so a new key goes first and the old one stays until `syncd keys rotate` has run."""

    encryption_keys_env: str | None = "SYNCD_ENCRYPTION_KEYS"
    encryption_keys_file: str | None = None

    def encryption_keys_ref(self) -> SecretRef:
        env, file = self.encryption_keys_env, self.encryption_keys_file
        return SecretRef("keys.encryption_keys", env, file)

    def encryption_keys(self) -> list[str]:
        """The keys, first the one that encrypts; `ConfigError` if none is set."""
        value = self.encryption_keys_ref().read()
        keys = [key for key in KEY_SEPARATORS.split(value or "") if key]
        if not keys:
            raise ConfigError([self._unset()])
        return keys

    def _unset(self) -> str:
        where = self.encryption_keys_env or "(none)"
        return (f"keys.encryption_keys_env: {where} is not set (or set keys.encryption_keys_file); "
                "credentials stored through the API need a key: `syncd keys generate` makes one")


class AccountSettings(Section):
    """Accounts stored in the database (the API's /accounts), refreshed in every process."""

    refresh_seconds: float = Field(default=2.0, gt=0)
    idle_close_seconds: float = Field(default=300.0, gt=0)  # an unused account's clients close
