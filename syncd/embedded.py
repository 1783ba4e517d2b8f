"""The embedded default: a local Radicale and generated secrets, for `make run`."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from passlib.hash import sha512_crypt

from syncd.config import EmbeddedSettings, Settings
from syncd.errors import ConfigError
from syncd.private_files import FOLDER_MODE, private_folder, tighten, write_private

SHA512_ROUNDS = 5000


def ensure_secret_file(path: Path) -> str:
    """The secret in `path`, created (owner-only) on first use."""
    if not path.exists():
        private_folder(path.parent)
        write_private(path, secrets.token_urlsafe(24).encode())
    tighten(path)
    return path.read_text(encoding="utf-8").strip()


def ensure_generated_secrets(settings: Settings) -> None:
    """With `embedded.generate_secrets`, the API key and manage secret files exist."""
    if not settings.embedded.generate_secrets:
        return
    for name in (settings.api.key_file, settings.manage.secret_file):
        if name:
            ensure_secret_file(Path(name))


def _radicale_config(settings: EmbeddedSettings, data: Path) -> str:
    return "\n".join(
        [
            "[server]",
            f"hosts = 127.0.0.1:{settings.radicale_port}",
        "max_connections = 64",  # the default 8 is below one worker's concurrency
            "[auth]",
            "type = htpasswd",
            f"htpasswd_filename = {data / 'users'}",
            "htpasswd_encryption = sha512",
            "[storage]",
            f"filesystem_folder = {data / 'collections'}",
            "[logging]",
            "level = warning",
            "",
        ]
    )


def _htpasswd_line(username: str, password: str) -> bytes:
    # The password is 192 random bits: a salted hash at the usual rounds stands against any
    # guessing, and keeps each of Radicale's Basic-auth checks cheap.
    hashed = sha512_crypt.using(rounds=SHA512_ROUNDS).hash(password)
    return f"{username}:{hashed}\n".encode()


@dataclass
class EmbeddedRadicale:
    settings: EmbeddedSettings
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.radicale_port}/"

    @property
    def password_file(self) -> Path:
        return Path(self.settings.data_dir) / "password"

    def start(self) -> None:
        data = private_folder(Path(self.settings.data_dir).resolve())
        os.chmod(data, FOLDER_MODE)  # its collections hold the demo's customers
        password = ensure_secret_file(self.password_file)
        write_private(data / "users", _htpasswd_line(self.settings.username, password))
        write_private(data / "config", _radicale_config(self.settings, data).encode())
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "radicale", "--config", str(data / "config")],
            umask=0o077,  # what Radicale stores is owner-only too
        )
        _wait_for_port(self.settings.radicale_port, self.process)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigError([f"embedded.radicale_port: Radicale exited (is port {port} taken?)"])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            time.sleep(0.05)
        else:
            return
    raise ConfigError([f"embedded.radicale_port: Radicale did not answer on {port}"])
