"""What goes wrong on the manage pages, and the page each problem gets.

A wrong, expired, revoked or tampered token and a path that does not exist
all get the same 404 page, byte for byte, so the answer tells a guesser
nothing. Anything unexpected becomes a plain 500 page; the log names the
exception's type and the path with its token withheld (syncd.web.frame).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from syncd.errors import Conflict, InputError, NotFound
from syncd.manage.errors import ActionClosed

_FIRST_SEGMENT = re.compile(r"^/(?!static/)[^/]+")


class BadInputError(Exception):
    """A form or query parameter the pages never offer: 400, with the message shown."""


class CsrfError(Exception):
    """A POST without a valid form token for this browser and link: 403."""


ErrorPage = Callable[[Request, int, str, str], Response]
PageErrorHandler = Callable[[Request, Exception], Response]

NOT_FOUND_TITLE = "Link not valid"
NOT_FOUND_TEXT = (
    "This link does not open a booking. It may be mistyped, or the booking it was for "
    "is over. Please use the link from your most recent email, or contact the business."
)
_CSRF_TEXT = (
    "This form had expired or was opened in another browser window. Nothing was changed. "
    "Please go back, reload the page and try again."
)


def exception_handlers(error_page: ErrorPage) -> dict[type[Exception], PageErrorHandler]:
    def not_found(request: Request, _: Exception) -> Response:
        return error_page(request, 404, NOT_FOUND_TITLE, NOT_FOUND_TEXT)

    def bad_input(request: Request, error: Exception) -> Response:
        fields = error.fields if isinstance(error, InputError) else {}
        message = " ".join(fields.values()) or str(error)
        return error_page(request, 400, "Please check your choice", message)

    def csrf(request: Request, _: Exception) -> Response:
        return error_page(request, 403, "Please try again", _CSRF_TEXT)

    def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        if error.status_code == 404:
            return not_found(request, error)
        if error.status_code == 405:
            text = "This address does not accept that kind of request."
            page = error_page(request, 405, "Not possible here", text)
        else:
            page = error_page(request, error.status_code, "Request not possible", str(error.detail))
        page.headers.update(error.headers or {})  # e.g. Allow on a 405
        return page

    def closed(request: Request, error: Exception) -> Response:
        # normally a page shows the reason with the booking; this is for what slips past
        reason = error.reason if isinstance(error, ActionClosed) else str(error)
        return error_page(request, 409, "Not possible online", reason)

    return {
        NotFound: not_found,
        Conflict: closed,
        BadInputError: bad_input,
        InputError: bad_input,
        CsrfError: csrf,
        HTTPException: http_error,
    }


def redacted_path(scope: Scope) -> str:
    """The request's path with the manage token (its first segment) withheld."""
    root, path = str(scope.get("root_path", "")), str(scope["path"])
    rest = path.removeprefix(root)
    return root + _FIRST_SEGMENT.sub("/<token>", rest)
