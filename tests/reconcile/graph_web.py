"""syncd's web handler (the whole app of syncd.api.create_app) on a free 127.0.0.1 port, in a
thread: the endpoint the Graph double validates and posts its notifications to."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Self

import uvicorn

from syncd.api import create_app
from syncd.runtime import Runtime
from syncd.serve import EmbeddedServer
from tests.servers import free_port


class SyncdWeb:
    def __init__(self, runtime: Runtime, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            create_app(runtime), host="127.0.0.1", port=self.port, log_config=None,
            access_log=False, lifespan="off", ws="none", loop="asyncio",
        )
        self._server = EmbeddedServer(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("syncd's web handler did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(10)
