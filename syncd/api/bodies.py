"""Reading a request's JSON body: media type, size limit, syntax, shape.

The size limit holds whether or not the client declares Content-Length: a
chunked body is counted while it arrives and reading stops at the limit.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from syncd.api.errors import ApiError

JSON_MEDIA_TYPE = "application/json"


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object, or an ApiError saying what is wrong with it."""
    require_json_media_type(request.headers.get("content-type", ""))
    body = await read_limited(request, limit)
    data = decode_json(body)
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_input", "the body must be a JSON object",
                       {"body": "must be a JSON object"})
    if b"\\u" in body:  # only an escape can put these characters in a JSON string
        refuse_unstorable_text(data)
    return data


def refuse_unstorable_text(data: Any) -> None:
    """Text a database cannot keep (PostgreSQL holds no NUL, and UTF-8 no unpaired
    surrogate) is refused naming its field, rather than failing when it is stored.
    Walked without recursion: the body may nest as deep as the JSON decoder allows."""
    waiting: list[tuple[str, Any]] = [("", data)]
    while waiting:
        path, value = waiting.pop()
        if isinstance(value, str):
            _refuse_if_unstorable(path or "body", value)
        elif isinstance(value, dict):
            for key, item in value.items():
                _refuse_if_unstorable(path or "body", key)
                waiting.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            waiting.extend(
                (f"{path}.{index}" if path else str(index), item)
                for index, item in enumerate(value)
            )


def _refuse_if_unstorable(field: str, text: str) -> None:
    problem = _unstorable(text)
    if problem is not None:
        raise ApiError(422, "invalid_input", f"{field} {problem}", {field: problem})


def _unstorable(text: str) -> str | None:
    if "\0" in text:
        return "must not contain the NUL character (U+0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain an unpaired surrogate (\\ud800-\\udfff)"
    return None


def require_json_media_type(content_type: str) -> None:
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        shown = media_type or "none"
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type must be {JSON_MEDIA_TYPE} (got {shown})")


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the body is larger than {limit} bytes")


def declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isdigit():
        raise ApiError(400, "bad_content_length", "Content-Length is not a number")
    return int(value)


async def read_limited(request: Request, limit: int) -> bytes:
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        message = f"the body is not valid JSON: {_reason(error)}"
        raise ApiError(400, "malformed_json", message) from None


def _reason(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    if isinstance(error, UnicodeDecodeError):
        return "it is not UTF-8"
    if isinstance(error, RecursionError):
        return "it is nested too deeply"
    return str(error)
