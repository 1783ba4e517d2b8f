"""The event loop a syncd process runs on: uvloop where it is installed, else asyncio's own.

uvloop and httptools are uvicorn's standard extras: with them the web handler
parses HTTP in C and the loop itself is libuv's, which roughly doubles the
requests per second a process serves (bench/manage_web.py). Both are optional:
where they are missing (another platform, another interpreter), syncd runs on
asyncio's loop and uvicorn's h11 parser, and behaves the same.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def fast_loop_factory() -> LoopFactory | None:
    """uvloop's loop factory, or None where uvloop is not installed."""
    if importlib.util.find_spec("uvloop") is None:
        return None
    factory: LoopFactory = importlib.import_module("uvloop").new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, on the fastest loop this install has."""
    with asyncio.Runner(loop_factory=fast_loop_factory()) as runner:
        return runner.run(main)
