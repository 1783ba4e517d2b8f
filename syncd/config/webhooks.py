"""The `[webhooks]` table: signed events to the booking platform (see syncd/webhooks/).

Its allow-list entries are parsed here, where the file is checked, and by the
destination policy (syncd/webhooks/destinations.py) that enforces them.
"""

from __future__ import annotations

import ipaddress
import re

from pydantic import Field, field_validator

from syncd.config.section import Section

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")


def parse_entry(entry: str) -> IPNetwork | str:
    """An allow-list entry: a network (an address is a network of one) or a host name."""
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return host_name(entry)


def host_name(host: str) -> str:
    """A host as allow-list entries are compared: no brackets, no final dot, lower case."""
    return host.strip().strip("[]").rstrip(".").lower()


class WebhookSettings(Section):
    timeout_seconds: float = Field(default=15.0, gt=0)
    concurrency_per_subscription: int = Field(default=8, ge=1, le=256)
    max_in_flight: int = Field(default=256, ge=1)
    retry_period_hours: float = Field(default=72.0, gt=0)
    backoff_base_seconds: float = Field(default=5.0, ge=0)
    backoff_max_seconds: float = Field(default=3600.0, ge=0)
    sweep_interval_seconds: float = Field(default=10.0, gt=0)
    secret_overlap_hours: float = Field(default=24.0, ge=0)
    keep_delivered_days: float = Field(default=7.0, gt=0)
    # internal destinations allowed besides public addresses: networks ("10.1.2.0/24",
    # "127.0.0.1") or host names ("hooks.internal.example")
    allow_destinations: list[str] = Field(default_factory=list)

    @field_validator("allow_destinations")
    @classmethod
    def _valid_entries(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            parsed = parse_entry(entry)
            if isinstance(parsed, str) and not _HOST_NAME.fullmatch(parsed):
                raise ValueError(f"{entry!r} is neither a network nor a host name")
        return entries
