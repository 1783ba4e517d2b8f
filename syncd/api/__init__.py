"""The HTTP API: `create_app(runtime)` is the ASGI application uvicorn serves."""

from __future__ import annotations

from syncd.api.app import create_app

__all__ = ["create_app"]
