"""`syncd run` as a child process, reached over real HTTP, for the browser tests.

    with SyncdDaemon(tmp_path, {"dav": radicale.connector_settings()}) as daemon:
        daemon.api.put("/api/v1/merchants/m1", json={...})
        link = daemon.manage_link_for("ada@example.org")   # from the mail it wrote

The daemon runs the web handler, the worker and the mail sender (file
transport under `<tmp>/mail`), on a SQLite file, with its API key and manage
secret from the environment.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from cryptography.fernet import Fernet

from syncd.config import Settings
from tests.servers import free_port

STARTUP_TIMEOUT_SECONDS = 30.0
_LINK = re.compile(r"https?://\S+/manage/[A-Za-z0-9_-]+")
_CONNECT_LINK = re.compile(r"https?://\S+/connect/[A-Za-z0-9_-]+")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml(tables: dict[str, dict[str, Any]]) -> str:
    lines = []
    for name, values in tables.items():
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None)
    return "\n".join(lines) + "\n"


class SyncdDaemon:
    def __init__(
        self, workdir: Path, connectors: dict[str, dict[str, Any]], port: int | None = None
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = secrets.token_urlsafe(24)
        self.mail_dir = workdir / "mail"
        self.log = workdir / "syncd.log"
        self.config = workdir / "syncd.toml"
        self.config.write_text(_toml(self._tables(connectors)))
        self.process: subprocess.Popen[bytes] | None = None
        self.api = httpx.Client(base_url=self.url, timeout=30,
                                headers={"Authorization": f"Bearer {self.api_key}"})

    def _tables(self, connectors: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        tables: dict[str, dict[str, Any]] = {
            "database": {"url": f"sqlite:///{self.workdir / 'syncd.db'}"},
            "api": {"port": self.port, "key_env": "SYNCD_WEB_TEST_API_KEY"},
            "worker": {"sweep_interval_seconds": 1.0, "backoff_base_seconds": 0.1,
                       "backoff_max_seconds": 1.0},
            "mail": {"directory": str(self.mail_dir), "sweep_interval_seconds": 0.5,
                     "backoff_base_seconds": 0.1},
            "manage": {"public_url": self.url, "secret_env": "SYNCD_WEB_TEST_MANAGE_SECRET"},
            "connect": {"allow_private_addresses": True},  # the test servers are on 127.0.0.1
        }
        if "metrics" in Settings.model_fields:
            tables["metrics"] = {"port": 0}  # never the fixed default: tests run side by side
        for name, table in connectors.items():
            tables[f"connectors.{name}"] = table
        return tables

    def start(self) -> None:
        environment = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "SYNCD_WEB_TEST_API_KEY": self.api_key,
            "SYNCD_WEB_TEST_MANAGE_SECRET": secrets.token_urlsafe(32),
            "SYNCD_MAIL__DIRECTORY": str(self.mail_dir),
            "SYNCD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),  # connected accounts'
        }
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "syncd", "--config", str(self.config), "run"],
                stdout=out, stderr=out, env=environment,
            )
        self._wait_until_answering()

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"syncd exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"syncd did not answer:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> int | None:
        process, self.process = self.process, None
        self.api.close()
        if process is None:
            return None
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return None

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.put(f"/api/v1{path}", json=body)
        assert response.status_code in (200, 201), response.text
        found: dict[str, Any] = response.json()
        return found

    def messages_to(self, address: str) -> list[EmailMessage]:
        found = []
        for path in sorted(self.mail_dir.glob("*.eml")):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            assert isinstance(message, EmailMessage)
            if address in str(message["To"]):
                found.append(message)
        return found

    def manage_link_for(self, address: str, timeout: float = 20) -> str:
        """The "Manage your booking" link in the first message the daemon sent to `address`."""
        return self._link_for(address, _LINK, timeout)

    def connect_link_for(self, address: str, timeout: float = 20) -> str:
        """The connect link in the first message the daemon sent to `address`."""
        return self._link_for(address, _CONNECT_LINK, timeout)

    def _link_for(self, address: str, link: re.Pattern[str], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages_to(address):
                body = message.get_body(preferencelist=("plain",))
                match = link.search(str(body.get_content()) if body else "")
                if match:
                    return match.group(0)
            time.sleep(0.1)
        raise AssertionError(f"no message with the link to {address} within {timeout}s")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        code = self.stop()
        if exc_type is None:
            assert code == 0, f"syncd exited with {code}:\n{self.log.read_text()[-3000:]}"
