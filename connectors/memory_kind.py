"""Registry entry for the in-memory connector (tests and demonstrations only)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.memory import MemoryConnector


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["memory"]
    concurrency_per_calendar: int = Field(default=4, ge=1, le=64)


def build(settings: Settings) -> MemoryConnector:
    return MemoryConnector(settings.concurrency_per_calendar)
