"""Real CalDAV servers (Radicale, Xandikos) run as subprocesses for tests.

Cyrus and DAViCal, installed from Debian packages, live in tests/servers_cyrus.py
and tests/servers_davical.py; tests/server_families.py names all four.

Each server listens on a free 127.0.0.1 port, keeps its data in a directory
given by the caller, and can be stopped and started again on the same port
with the same data (outage tests). Every server still running when the
interpreter exits is killed, so a failed test never leaves one behind.

    with RadicaleServer(tmp_path) as server:
        path = server.create_collection("work")   # "/alice/work/"
        settings = server.connector_settings()    # for connectors.caldav
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote
from xml.sax.saxutils import escape

import httpx
import trustme

STARTUP_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 5.0

_running: set[DavServer] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _signal_group(process: subprocess.Popen[bytes], number: signal.Signals) -> None:
    """Send `number` to the server's process group (its own, made at start)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, number)


def _mkcalendar_body(display_name: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f"<D:set><D:prop><D:displayname>{escape(display_name)}</D:displayname>"
        '<C:supported-calendar-component-set><C:comp name="VEVENT"/>'
        "</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"
    ).encode()


class DavServer(ABC):
    """A CalDAV server subprocess with one user, reachable at `url`."""

    scheme = "http"

    def __init__(self, data_dir: Path, username: str = "alice") -> None:
        self.data_dir = data_dir
        self.username = username
        self.password = secrets.token_urlsafe(16)
        self.port = free_port()
        self.ca_file: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        data_dir.mkdir(parents=True, exist_ok=True)
        self.password_file = data_dir / "password"
        self.password_file.write_text(self.password)
        self._prepare()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    @abstractmethod
    def _prepare(self) -> None:
        """Write the configuration and credential files the server reads."""

    @abstractmethod
    def _command(self) -> list[str]:
        """The command line that runs the server in the foreground."""

    @abstractmethod
    def collection_path(self, name: str) -> str:
        """Path of a calendar collection called `name` (no request made)."""

    def start(self) -> None:
        """Start the server (same port and data as before) and wait until it answers."""
        if self._process is not None:
            return
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                self._command(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env=self._environment(),
                # A group of its own: servers that fork workers (PHP's) are stopped whole.
                start_new_session=True,
            )
        _running.add(self)
        self._wait_until_answering()
        self._after_start()

    def _environment(self) -> dict[str, str] | None:
        """The server process's environment (None: this process's own)."""
        return None

    def _after_start(self) -> None:
        """What a server needs once it answers, before the first CalDAV request."""
        return

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not _port_answers(self.port):
            if self._process is None or self._process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{type(self).__name__} exited:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{type(self).__name__} did not start:\n{self._log_tail()}")
            time.sleep(0.05)

    def _log_tail(self) -> str:
        return self.log_file.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """Stop the server; connections are refused until `start()`."""
        process, self._process = self._process, None
        _running.discard(self)
        if process is None:
            return
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
        _signal_group(process, signal.SIGKILL)  # workers that outlived their parent

    def restart(self) -> None:
        self.stop()
        self.start()

    def connector_settings(self, **overrides: Any) -> dict[str, Any]:
        """A `[connectors.<name>]` table for `connectors.caldav` reaching this server."""
        settings: dict[str, Any] = {
            "kind": "caldav",
            "url": self.url,
            "username": self.username,
            "password_file": str(self.password_file),
            "ca_file": self.ca_file,
        }
        return settings | overrides

    def tls_verify(self) -> ssl.SSLContext | bool:
        """httpx's `verify` for this server: its test CA, if it serves HTTPS."""
        return True if self.ca_file is None else ssl.create_default_context(cafile=self.ca_file)

    def http_client(self) -> httpx.Client:
        """A plain HTTP client logged in as the server's user (for test set-up)."""
        return httpx.Client(
            base_url=self.url, auth=(self.username, self.password), verify=self.tls_verify()
        )

    def fresh_account(self) -> DavServer:
        """The server as a user with an empty calendar home (servers with one user: itself)."""
        return self

    def create_collection(self, name: str) -> str:
        """Create calendar collection `name` (MKCALENDAR) and return its path."""
        path = self.collection_path(name)
        with self.http_client() as client:
            response = client.request(
                "MKCALENDAR", path, content=_mkcalendar_body(name),
                headers={"Content-Type": "application/xml; charset=utf-8"},
            )
        if response.status_code != 201:
            raise RuntimeError(f"MKCALENDAR {path} answered {response.status_code}")
        return path

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        self.discard()

    def discard(self) -> None:
        """Remove what the server keeps outside `data_dir` (nothing, unless overridden)."""
        return


class RadicaleServer(DavServer):
    """Radicale with htpasswd (plain) authentication: `/<user>/<name>/` collections."""

    def _prepare(self) -> None:
        users = self.data_dir / "users"
        users.write_text(f"{self.username}:{self.password}\n")
        self.config_file = self.data_dir / "radicale.conf"
        self.config_file.write_text(
            "[server]\n"
            f"hosts = 127.0.0.1:{self.port}\n"
            # Radicale's default of 8 would refuse a worker serving several calendars.
            "max_connections = 512\n"
            "[auth]\n"
            "type = htpasswd\n"
            f"htpasswd_filename = {users}\n"
            "htpasswd_encryption = plain\n"
            # Radicale sleeps after a refused login; the auth tests need no delay.
            "delay = 0\n"
            "[storage]\n"
            f"filesystem_folder = {self.data_dir / 'collections'}\n"
            "[web]\n"
            "type = none\n"
            "[logging]\n"
            "level = warning\n"
        )

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "radicale", "--config", str(self.config_file)]

    def collection_path(self, name: str) -> str:
        return f"/{quote(self.username)}/{quote(name)}/"


class XandikosServer(DavServer):
    """Xandikos over HTTPS with Basic auth: `/user/calendars/<name>/` collections.

    Xandikos accepts `--htpasswd` only together with `--autocert`, and its own
    certificate names the listen address as a DNS name, which no client accepts
    for an IP address. So a certificate from a test CA (with an IP address SAN)
    is put where `--autocert` finds and reuses it; `ca_file` is that CA.
    """

    scheme = "https"

    def _prepare(self) -> None:
        users = self.data_dir / "htpasswd"
        users.write_text(f"{self.username}:{_sha1_htpasswd(self.password)}\n")
        self._write_certificate(self.data_dir / "state" / "certs")

    def _write_certificate(self, cert_dir: Path) -> None:
        authority = trustme.CA()
        leaf = authority.issue_cert("127.0.0.1", "localhost")
        cert_dir.mkdir(parents=True, exist_ok=True)
        leaf.private_key_pem.write_to_path(str(cert_dir / "selfsigned.key"))
        leaf.cert_chain_pems[0].write_to_path(str(cert_dir / "selfsigned.crt"))
        ca_file = self.data_dir / "ca.pem"
        authority.cert_pem.write_to_path(str(ca_file))
        self.ca_file = str(ca_file)

    def _command(self) -> list[str]:
        return [
            sys.executable, "-m", "xandikos", "serve",
            "--directory", str(self.data_dir / "dav"),
            "--state-dir", str(self.data_dir / "state"),
            "--listen-address", "127.0.0.1",
            "--port", str(self.port),
            "--defaults", "--autocert",
            "--htpasswd", str(self.data_dir / "htpasswd"),
        ]

    def collection_path(self, name: str) -> str:
        return f"/user/calendars/{quote(name)}/"


def _sha1_htpasswd(password: str) -> str:
    """An htpasswd `{SHA}` entry: the one Xandikos format that needs no bcrypt."""
    digest = hashlib.sha1(password.encode()).digest()
    return "{SHA}" + base64.b64encode(digest).decode("ascii")


@atexit.register
def _stop_leftover_servers() -> None:
    for server in list(_running):
        server.stop()
