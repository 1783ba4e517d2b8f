"""uvicorn serving an ASGI app on 127.0.0.1 in a daemon thread, for test servers.

    running = UvicornThread(local_config(app, port), "the proxy")
    running.start()     # returns once uvicorn listens; raises if it never does
    ...
    running.stop()
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from syncd.serve import EmbeddedServer

START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0


def local_config(app: Any, port: int | None = None, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for a quiet test server on 127.0.0.1 (`options` override them)."""
    defaults: dict[str, Any] = {
        "host": "127.0.0.1",
        "log_config": None,
        "access_log": False,
        "lifespan": "off",
        "ws": "none",
        "loop": "asyncio",
    }
    if port is not None:
        defaults["port"] = port
    return uvicorn.Config(app, **(defaults | options))


class UvicornThread:
    """One run of uvicorn in a daemon thread; `what` names the server in errors."""

    def __init__(
        self, config: uvicorn.Config, what: str, sockets: list[socket.socket] | None = None
    ) -> None:
        self.what = what
        self.server = EmbeddedServer(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": sockets}, name=what, daemon=True
        )

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self.what} did not start")
            time.sleep(0.01)

    def ask_to_stop(self) -> None:
        """Have uvicorn stop accepting and finish; `stop` then waits for it."""
        self.server.should_exit = True

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        self.ask_to_stop()
        self._thread.join(timeout)
