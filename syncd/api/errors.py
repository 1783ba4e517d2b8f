"""Every failure the API reports, as one JSON shape.

    {"error": {"code": "invalid_input", "message": "...", "fields": {"end": "..."}}}

syncd's own errors (syncd.errors) and Starlette's routing errors are mapped to
a status here; a database outage (syncd.store.outage) is a 503 with
`Retry-After` and a code naming it; anything else becomes a 500 whose traceback is logged without
the exception's message, since that may quote request data (customer names).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send

from syncd.errors import Conflict, InputError, NotFound
from syncd.logs import redacted_traceback
from syncd.store.outage import Outage, outage_of

logger = logging.getLogger("syncd.api")
GENERIC_500 = "an unexpected error occurred; it has been logged"

_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """A request refused by the HTTP layer itself (bad JSON, wrong media type, too large)."""

    def __init__(
        self, status: int, code: str, message: str, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields or {}


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "fields": dict(fields or {})}}
    return JSONResponse(body, status_code=status, headers=headers)


def _api_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return error_response(error.status, error.code, error.message, error.fields)


def _input_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, InputError)
    return error_response(422, "invalid_input", "the request has invalid fields", error.fields)


def _not_found(_request: Request, error: Exception) -> Response:
    return error_response(404, "not_found", f"not found: {error}")


def _conflict(_request: Request, error: Exception) -> Response:
    return error_response(409, "conflict", str(error))


def _http_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = _HTTP_CODES.get(error.status_code, "http_error")
    return error_response(error.status_code, code, error.detail, headers=error.headers)


EXCEPTION_HANDLERS: dict[type[Exception], ExceptionHandler] = {
    ApiError: _api_error,
    InputError: _input_error,
    NotFound: _not_found,
    Conflict: _conflict,
    HTTPException: _http_error,
}


class UnexpectedErrors:
    """Turn an exception nothing else handled into a generic 500 and log where it came from."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            outage = outage_of(error)
            if outage is None:
                _log(scope, error)
            else:
                logger.warning("%s on %s %s", outage.value, scope["method"], scope["path"])
            if not started:  # else the server closes the half-sent response
                await _failure_response(outage)(scope, receive, send)


def _failure_response(outage: Outage | None) -> Response:
    if outage is None:
        return error_response(500, "internal_error", GENERIC_500)
    outage.record()
    retry = {"Retry-After": str(outage.retry_after_seconds)}
    return error_response(503, outage.value, outage.message, headers=retry)


def _log(scope: Scope, error: Exception) -> None:
    method, path = scope["method"], scope["path"]
    logger.error("unexpected error on %s %s: %s", method, path, redacted_traceback(error))
