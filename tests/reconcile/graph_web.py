"""syncd's web handler (the whole app of syncd.api.create_app) on a free 127.0.0.1 port, in a
thread: the endpoint the Graph double validates and posts its notifications to."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from syncd.api import create_app
from syncd.runtime import Runtime
from tests.servers import free_port
from tests.threads import UvicornThread, local_config


class SyncdWeb:
    def __init__(self, runtime: Runtime, port: int | None = None) -> None:
        self.port = port or free_port()
        self._running = UvicornThread(
            local_config(create_app(runtime), self.port), "syncd's web handler"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._running.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._running.stop()
