"""A plain HTTP server on 127.0.0.1 that records every request it gets: the host an
attacker would like syncd to talk to, or a server that answers with a redirect."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


class RecordingServer:
    """Records (method, path, headers) of each request; answers 207, or 302 to `redirect_to`."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                recorder.requests.append((self.command, self.path, dict(self.headers)))
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(302 if redirect_to else 207)
                if redirect_to:
                    self.send_header("Location", redirect_to + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_PUT = do_PROPFIND = do_REPORT = _answer  # noqa: N815 - http.server's names
            do_DELETE = do_MKCALENDAR = _answer  # noqa: N815

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
