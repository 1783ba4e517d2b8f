"""The details page found ahead of the router gets what the router would have given it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.types import Message, Receive, Scope, Send

from syncd.web.routing import FirstRouteAhead, one_segment_parameter


class Recording:
    """An endpoint that keeps the scope it was called with."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(dict(scope))
        await PlainTextResponse(self.name)(scope, receive, send)


def _router() -> tuple[Router, Recording]:
    details = Recording("details")
    router = Router([
        Route("/{token}", details, methods=["GET"]),
        Mount("/static", app=Recording("static")),
        Route("/{token}/cancel", Recording("cancel"), methods=["GET"]),
        Route("/{token}", Recording("post"), methods=["POST"]),
        Route("/{page:path}/", Recording("slash")),
    ], redirect_slashes=False)
    return router, details


async def _answer(app: Any, scope: Scope) -> tuple[int, bytes]:
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages[0]["status"], b"".join(m.get("body", b"") for m in messages[1:])


def _scope(method: str, path: str, root_path: str) -> Scope:
    return {"type": "http", "method": method, "path": path, "root_path": root_path,
            "headers": [], "query_string": b"", "path_params": {"outer": "kept"}}


PATHS = ["/manage/abc", "/manage/a b", "/manage/abc\n", "/manage/abc/", "/manage/abc/cancel",
         "/manage/", "/manage", "/manage/static/x.css", "/manage/static", "/other/abc",
         "/manageabc", "/manage//", "/manage/%2F"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT"])
@pytest.mark.parametrize("root_path", ["/manage", ""])
def test_every_request_is_answered_as_the_router_answers_it(
    method: str, path: str, root_path: str
) -> None:
    scope = _scope(method, path if root_path else path.removeprefix("/manage"), root_path)
    router, details = _router()
    expected = asyncio.run(_answer(router, dict(scope)))
    routed = details.scopes[:]
    ahead_router, ahead_details = _router()
    answer = asyncio.run(_answer(FirstRouteAhead(ahead_router), dict(scope)))
    assert answer == expected
    assert [_comparable(s) for s in ahead_details.scopes] == [_comparable(s) for s in routed]


def _comparable(scope: Scope) -> dict[str, Any]:
    return {**scope, "router": type(scope["router"]), "route": scope["route"].path,
            "endpoint": type(scope["endpoint"])}


def test_only_a_plain_route_of_one_string_parameter_is_taken_ahead() -> None:
    async def page(_: Any) -> Response:
        return Response()

    assert one_segment_parameter(Route("/{token}", page)) == "token"
    for path in ("/{token}/x", "/{token:int}", "/x{token}", "/{a}{b}", "/static"):
        assert one_segment_parameter(Route(path, page)) is None, path
    assert one_segment_parameter(Mount("/{token}", app=Recording("mount"))) is None
