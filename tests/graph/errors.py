"""Error bodies as Microsoft Graph and Microsoft Entra ID (AAD) send them.

Graph: ``{"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}`` (learn.microsoft.com/graph/errors). AAD token endpoint:
``{"error", "error_description": "AADSTSnnn: ...", "error_codes": [nnn], "timestamp",
"trace_id", "correlation_id", "error_uri"}``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class GraphError(Exception):
    """Raised by a handler; becomes a Graph error response."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass
class Reply:
    """What a Graph handler answers: status, JSON (or text) body, headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False  # performed, but the client gets no response


def graph_error_body(code: str, message: str, client_request_id: str | None) -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id or request_id,
            },
        }
    }


def error_reply(error: GraphError, client_request_id: str | None) -> Reply:
    body = graph_error_body(error.code, error.message, client_request_id)
    return Reply(error.status, body, dict(error.headers))


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def item_not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def not_implemented(what: str) -> GraphError:
    """Valid Graph the double does not model: say so instead of pretending Graph rejects it."""
    return GraphError(501, "NotImplemented", f"The Graph double does not implement {what}.")


def aad_error_body(error: str, code: int, description: str) -> dict[str, Any]:
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    return {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {description}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
        ),
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


class AadError(Exception):
    """Raised by the token endpoint; becomes an AAD error response."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.status = status
        self.body = aad_error_body(error, code, description)
