"""Back-fill: bookings from a JSON file, validated, then stored in one transaction.

The file is a JSON array of objects shaped like the API's booking body plus
`merchant` and `key`. Every record is checked before anything is stored; one
bad record means nothing is imported and every problem is reported. Imports
are idempotent by (merchant, key), so an interrupted import can simply be rerun.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError
from tqdm import tqdm

from syncd.errors import Conflict, InputError, NotFound
from syncd.runtime import Runtime
from syncd.schemas import ImportedBooking, field_errors
from syncd.store.bookings import put_booking
from syncd.store.catalog import get_merchant
from syncd.store.changes import Actor
from syncd.store.session import SyncdSession


def read_bookings(path: Path) -> list[ImportedBooking]:
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError({str(path): f"not a readable JSON file ({error})"}) from None
    if not isinstance(records, list):
        raise InputError({str(path): "must hold a JSON array of bookings"})
    return _validated(records)


def _validated(records: list[object]) -> list[ImportedBooking]:
    problems: dict[str, str] = {}
    bookings = []
    for index, record in enumerate(records):
        try:
            bookings.append(ImportedBooking.model_validate(record))
        except ValidationError as error:
            problems.update({f"[{index}].{k}": v for k, v in field_errors(error).items()})
    if problems:
        raise InputError(problems)
    return bookings


def import_bookings(runtime: Runtime, bookings: list[ImportedBooking], progress: bool) -> int:
    """Store every booking in one transaction; returns how many were new."""
    created = 0
    with (
        runtime.sessions.begin() as session,
        tqdm(total=len(bookings), unit="booking", disable=not progress) as bar,
    ):
        for index, record in enumerate(bookings):
            created += _store(session, index, record)
            bar.update()
    return created


def _store(session: SyncdSession, index: int, record: ImportedBooking) -> int:
    try:
        merchant = get_merchant(session, record.merchant)
        _, new = put_booking(session, merchant, record.key, record, Actor.IMPORT)
    except NotFound as error:
        raise InputError({f"[{index}].merchant": str(error)}) from None
    except (InputError, Conflict) as error:
        fields = error.fields if isinstance(error, InputError) else {"key": str(error)}
        raise InputError({f"[{index}].{k}": v for k, v in fields.items()}) from None
    return int(new)
