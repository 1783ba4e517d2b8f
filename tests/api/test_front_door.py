"""The front door sends a request to the manage pages exactly when their mount matches it,
with the scope the mount would give it."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Match, Mount, Route

from syncd.api.front_door import FrontDoor


def page(_: object) -> PlainTextResponse:
    return PlainTextResponse("page")


MOUNT = Mount("/manage", routes=[Route("/{token}", page)])
DOOR = FrontDoor(Starlette(routes=[MOUNT]), MOUNT)


@pytest.mark.parametrize(("path", "root_path"), [
    ("/manage/abc", ""), ("/manage/abc/cancel/", ""), ("/manage/", ""), ("/manage//x", ""),
    ("/manage", ""), ("/managed/abc", ""), ("/api/v1/manage/abc", ""), ("/manage/a\nb", ""),
    ("/manage/abc\n", ""), ("/syncd/manage/abc", "/syncd"), ("/manage/abc", "/syncd"),
])
def test_the_door_matches_as_the_mount_does(path: str, root_path: str) -> None:
    scope = {"type": "http", "path": path, "root_path": root_path, "method": "GET"}
    match, expected = MOUNT.matches(scope)
    assert DOOR.mounted(scope) == (expected if match is Match.FULL else None)
