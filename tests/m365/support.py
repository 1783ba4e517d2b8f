"""The m365 connector wired to the Graph double (tests/graph), for tests and benches."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

from connectors.m365 import M365Connector, Settings, build
from connectors.m365.calendar import M365Calendar
from tests.contract.harness import ForeignEvent
from tests.graph import GraphDouble
from tests.server_families import Capabilities

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def secret_file(secret: str, directory: Path | None = None) -> str:
    """A file holding `secret` (the connector reads secrets from files or the environment)."""
    folder = directory or Path(tempfile.mkdtemp(prefix="syncd-m365-"))
    path = folder / f"secret-{uuid.uuid4().hex[:8]}"
    path.write_text(secret + "\n", encoding="utf-8")
    return str(path)


def connector_table(
    double: GraphDouble,
    *,
    client_id: str | None = None,
    secret: str | None = None,
    directory: Path | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A `[connectors.<name>]` table for an app registered with the double."""
    return {
        "kind": "m365",
        "tenant_id": double.tenant_id,
        "client_id": client_id or double.client_id,
        "client_secret_file": secret_file(secret or double.client_secret, directory),
        "authority_host": double.base_url,
        "graph_url": double.graph_url,
        "ca_file": double.ca_file,
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 1.0,
        "timeout_seconds": 10,
        **overrides,
    }


def m365_connector(double: GraphDouble, **table: Any) -> M365Connector:
    return build(Settings.model_validate(connector_table(double, **table)))


def new_mailbox(double: GraphDouble, timezone: str = "Europe/Berlin") -> str:
    upn = f"staff-{uuid.uuid4().hex[:10]}@contoso.test"
    double.add_mailbox(upn, timezone=timezone)
    return upn


class GraphHarness:
    """A fresh mailbox's default calendar; foreign events are made as staff make them."""

    capabilities = Capabilities()

    def __init__(self, calendar: M365Calendar, double: GraphDouble, mailbox: str) -> None:
        self.calendar = calendar
        self.double = double
        self.mailbox = mailbox

    async def add_foreign(self, event: ForeignEvent) -> None:
        self.double.add_foreign_event(
            self.mailbox,
            event.name,
            event.start,
            event.end,
            show_as="busy" if event.busy else "free",
            recurrence=weekly(event) if event.weekly_count > 1 else None,
        )


def weekly(event: ForeignEvent) -> dict[str, Any]:
    """Graph's patternedRecurrence for `event.weekly_count` weekly occurrences."""
    return {
        "pattern": {
            "type": "weekly",
            "interval": 1,
            "daysOfWeek": [_DAY_NAMES[event.start.weekday()]],
        },
        "range": {
            "type": "numbered",
            "startDate": event.start.date().isoformat(),
            "numberOfOccurrences": event.weekly_count,
        },
    }
