"""A read statement compiled once, then run straight on a DBAPI connection.

For the hottest reads (the manage page a customer opens): through Core, a
one-row SELECT by an indexed key costs about 65 µs on SQLite, of which the
database's own work is about 8; the rest is the execution context and result
objects built around every call. Here SQLAlchemy still writes the SQL for the
engine's dialect and converts each value the way Core would (the column types'
result processors, UTC datetimes and JSON included); only the per-call
machinery is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Dialect, Select

Processor = Callable[[Any], Any]


class PreparedRead:
    """`statement` compiled for `dialect`; `one` runs it on a DBAPI connection."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.parameter_order: Sequence[str] | None = compiled.positiontup
        for name, bind in compiled.binds.items():
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise ValueError(f"parameter {name!r} needs converting: run it through Core")
        self.processors: list[Processor | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]

    def one(self, connection: Any, parameters: Mapping[str, object]) -> tuple[Any, ...] | None:
        """The first row, its values converted as Core converts them; None when there is none."""
        cursor = connection.cursor()
        try:
            cursor.execute(self.sql, self._parameters(parameters))
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        return tuple(
            value if process is None or value is None else process(value)
            for process, value in zip(self.processors, row, strict=True)
        )

    def _parameters(
        self, parameters: Mapping[str, object]
    ) -> Sequence[object] | Mapping[str, object]:
        if self.parameter_order is None:
            return parameters
        return [parameters[name] for name in self.parameter_order]
