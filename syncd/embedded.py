"""The embedded default: a local Radicale and generated secrets, for `make run`."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from syncd.config import EmbeddedSettings, Settings
from syncd.errors import ConfigError
from syncd.ops import ports
from syncd.private_files import FOLDER_MODE, private_folder, tighten, write_private
from syncd.store.sealing import new_key

log = logging.getLogger("syncd")
# what the `embedded` extra installs: a production install has neither
EMBEDDED_MODULES = ("radicale", "passlib")


def ensure_secret_file(path: Path, make: Callable[[], str] | None = None) -> str:
    """The secret in `path`, created (owner-only) on first use by `make` (random text)."""
    if not path.exists():
        private_folder(path.parent)
        write_private(path, (make or _random_secret)().encode())
    tighten(path)
    return path.read_text(encoding="utf-8").strip()


def _random_secret() -> str:
    return secrets.token_urlsafe(24)


def ensure_generated_secrets(settings: Settings) -> None:
    """With `embedded.generate_secrets`, the API key, manage secret and encryption keys
    files exist."""
    if not settings.embedded.generate_secrets:
        return
    for name in (settings.api.key_file, settings.manage.secret_file):
        if name:
            ensure_secret_file(Path(name))
    if settings.keys.encryption_keys_file:
        ensure_secret_file(Path(settings.keys.encryption_keys_file), new_key)




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


def _missing_extra() -> list[str]:
    return [name for name in EMBEDDED_MODULES if importlib.util.find_spec(name) is None]


@dataclass
class EmbeddedRadicale:
    """Radicale as a child process that ends with syncd (see syncd.embedded_child); its
    pid is kept in <data_dir>/radicale.pid so that a start after a crash can replace it."""

    settings: EmbeddedSettings
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.radicale_port}/"

    @property
    def password_file(self) -> Path:
        return Path(self.settings.data_dir) / "password"

    @property
    def pid_file(self) -> Path:
        return Path(self.settings.data_dir) / "radicale.pid"

    def start(self) -> None:
        data = private_folder(Path(self.settings.data_dir).resolve())
        os.chmod(data, FOLDER_MODE)  # its collections hold the demo's customers
        missing = _missing_extra()
        if missing:
            raise ConfigError([
                f"embedded.radicale: {', '.join(missing)} not installed; the embedded CalDAV "
                "server needs the `embedded` extra (pip install 'syncd[embedded]')"
            ])
        ensure_secret_file(self.password_file)
        config = data / "config"
        write_private(config, _radicale_config(self.settings, data).encode())
        self._free_the_port(config)
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "syncd.embedded_child", str(data / "users"),
             self.settings.username, str(self.password_file), "--config", str(config)],
            stdin=subprocess.PIPE,  # its end of file tells the child that syncd is gone
            umask=0o077,  # what Radicale stores is owner-only too
        )
        write_private(self.pid_file, str(self.process.pid).encode())
        _wait_for_port(self.settings.radicale_port, self.process)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()  # the child's watchdog stops it, as if syncd had died
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.pid_file.unlink(missing_ok=True)

    def _free_the_port(self, config: Path) -> None:
        """Stop the Radicale an earlier run of ours left on the port; refuse anyone else's."""
        port = self.settings.radicale_port
        if not _answers(port):
            return
        stale = self._stale_child(config)
        if stale is None:
            raise ConfigError([_taken(port)])
        log.warning("stopping the embedded Radicale left by an earlier run (pid %d)", stale)
        _end(stale, port)

    def _stale_child(self, config: Path) -> int | None:
        """The pid of an earlier run's Radicale of this data directory, if one runs."""
        recorded = self.pid_file.read_text().strip() if self.pid_file.exists() else ""
        candidates = [int(recorded)] if recorded.isdigit() else []
        holder = ports.listener_pid(self.settings.radicale_port)
        candidates += [holder] if holder is not None else []
        ours = [pid for pid in candidates if _is_radicale_of(pid, config)]
        return ours[0] if ours else None


def _is_radicale_of(pid: int, config: Path) -> bool:
    command = ports.command_line(pid)
    return "radicale" in command and f"--config {config}" in command


def _taken(port: int) -> str:
    holder = ports.listener_pid(port)
    who = "another program" if holder is None else f"pid {holder} ({ports.command_line(holder)})"
    return (
        f"embedded.radicale_port: port {port} is taken by {who}, not by a Radicale of this "
        "data_dir; stop it or choose another port"
    )


def _end(pid: int, port: int, timeout: float = 10) -> None:
    """SIGTERM `pid`, SIGKILL it if the port is still held after `timeout`, wait for the port."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while _answers(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _answers(port):
            return
    raise ConfigError([_taken(port)])


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigError([f"embedded.radicale_port: Radicale exited (is port {port} taken?)"])
        if _answers(port):
            return
        time.sleep(0.05)
    raise ConfigError([f"embedded.radicale_port: Radicale did not answer on {port}"])
