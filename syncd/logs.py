"""Log set-up: readable text by default, one JSON object per line with `--log-format json`.

Only whitelisted context fields are ever written, so a stray `extra=` can never
put a customer's name or a secret into the logs.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime

CONTEXT_FIELDS = (
    "worker",
    "mirror_id",
    "outbox_id",
    "booking_id",
    "binding_id",
    "attempt",
    "failures",
    "count",
)


def _context(record: logging.LogRecord) -> dict[str, object]:
    return {k: getattr(record, k) for k in CONTEXT_FIELDS if hasattr(record, k)}


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{k}={v}" for k, v in _context(record).items())
        return f"{line} [{context}]" if context else line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str, log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def redacted_traceback(error: BaseException) -> str:
    """The stack of `error` and its causes, naming each exception's type but not its message."""
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None and len(parts) < 10:
        kind = f"{type(current).__module__}.{type(current).__qualname__}"
        frames = "".join(traceback.format_tb(current.__traceback__))
        parts.append(f"{kind} (message withheld)\n{frames}")
        current = current.__cause__ or current.__context__
    return "caused by ".join(parts)
