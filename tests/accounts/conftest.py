"""Stored accounts run on SQLite and PostgreSQL (see tests/dbs.py)."""

from __future__ import annotations

from tests.dbs import database_url, empty_database_url

__all__ = ["database_url", "empty_database_url"]
