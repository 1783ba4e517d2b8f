"""Secrets by reference: a `*_env` setting names an environment variable, a `*_file`
setting a file holding the secret. Every secret syncd reads (its own and the
connectors') comes through here, so each is read, stripped and reported the same way."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from connectors.errors import ConfigError


@dataclass(frozen=True)
class SecretRef:
    """Where one secret is: `setting` is its key's path without the suffix, e.g. "api.key"."""

    setting: str
    env_name: str | None
    file_name: str | None

    def read(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The secret from the environment variable, else from the file (stripped);
        None when neither holds one. A named file that is missing or unreadable is a
        `ConfigError`."""
        environ = os.environ if environ is None else environ
        if self.env_name and environ.get(self.env_name):
            return environ[self.env_name]
        if not self.file_name:
            return None
        try:
            return Path(self.file_name).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ConfigError([self.missing_file()]) from None
        except OSError as error:
            problem = f"{self.setting}_file: cannot read {self.file_name} ({error.strerror})"
            raise ConfigError([problem]) from None

    def require(self, environ: Mapping[str, str] | None = None) -> str:
        """The secret; a `ConfigError` naming the key when it is not set, or its file
        is missing, unreadable or empty."""
        value = self.read(environ)
        if value:
            return value
        if value is not None:
            raise ConfigError([f"{self.setting}_file: {self.file_name} is empty"])
        raise ConfigError([self.unset_env() if self.env_name else f"{self.setting}: not set"])

    def env_is_unset(self) -> bool:
        return bool(self.env_name) and not os.environ.get(self.env_name or "")

    def file_is_missing(self) -> bool:
        return bool(self.file_name) and not Path(self.file_name or "").is_file()

    def unset_env(self) -> str:
        return f"{self.setting}_env: {self.env_name} is not set"

    def missing_file(self) -> str:
        return f"{self.setting}_file: {self.file_name} does not exist"
