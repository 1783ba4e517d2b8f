"""A scripted HTTP(S) server for the answers no real CalDAV server gives on purpose:
garbage, a redirect to another host, a certificate for another name, a web page.

Each request is answered by the test's `Reply` for its path (404 for other paths)
and recorded, with whether it carried credentials, so a test can show that a host
was never sent the password.

    with ScriptedServer({"/": Reply(207, b"<not xml", "application/xml")}) as server:
        ...server.url...
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0  # before the answer starts


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    had_credentials: bool


class ScriptedServer:
    def __init__(self, replies: dict[str, Reply], tls: ssl.SSLContext | None = None,
                 host: str = "127.0.0.1") -> None:
        self.replies = replies
        self.seen: list[Seen] = []
        self.host = host
        self._http = ThreadingHTTPServer((host, 0), self._handler())
        self._http.daemon_threads = True
        if tls is not None:
            self._http.socket = tls.wrap_socket(self._http.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = int(self._http.server_address[1])
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                path = self.path.split("?")[0]
                credentials = self.headers.get("Authorization") is not None
                server.seen.append(Seen(self.command, path, credentials))
                reply = server.replies.get(path, Reply(404, b"not found"))
                time.sleep(reply.delay_seconds)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_PROPFIND = do_OPTIONS = _reply  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()
