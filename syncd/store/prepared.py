"""Read statements compiled once, then run straight on a DBAPI connection.

For the hottest reads (the manage pages a customer opens): through Core, a
one-row SELECT by an indexed key costs about 65 µs on SQLite, of which the
database's own work is about 8; the rest is the execution context and result
objects built around every call. Here SQLAlchemy still writes the SQL for the
engine's dialect and converts each value the way Core would (the column and
parameter types' processors, UTC datetimes and JSON included); only the
per-call machinery is skipped.

A `Reader` runs such statements on one connection, in whatever transaction the
connection is in: several reads in one transaction see one snapshot of the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from typing import Any

from sqlalchemy import Dialect, Select

Processor = Callable[[Any], Any]
Row = tuple[Any, ...]
Statement = Select[*Row]  # a SELECT of any columns


class PreparedRead:
    """`statement` compiled for `dialect`; `one` and `all` run it on a DBAPI connection."""

    def __init__(self, statement: Statement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.parameter_order: Sequence[str] | None = compiled.positiontup
        self.fixed: dict[str, object] = {}  # the values written into the statement
        self.converting: dict[str, Processor] = {}  # the caller's values that need converting
        for bind, name in compiled.bind_names.items():
            if bind.expanding or bind.literal_execute:
                raise ValueError(f"parameter {name!r} changes the SQL: run it through Core")
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if not bind.required:
                value = bind.effective_value
                self.fixed[name] = value if process is None else process(value)
            elif process is not None:
                self.converting[name] = process
        self.result_processors: list[tuple[int, Processor]] = [
            (index, process)
            for index, column in enumerate(statement.selected_columns)
            if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
        ]

    def one(self, connection: Any, parameters: Mapping[str, object]) -> Row | None:
        """The first row, its values converted as Core converts them; None when there is none."""
        with closing(connection.cursor()) as cursor:
            cursor.execute(self.sql, self._parameters(parameters))
            row = cursor.fetchone()
        return None if row is None else self._converted(row)

    def all(self, connection: Any, parameters: Mapping[str, object]) -> list[Row]:
        """Every row, in the statement's order, converted as `one` converts them."""
        with closing(connection.cursor()) as cursor:
            cursor.execute(self.sql, self._parameters(parameters))
            rows = cursor.fetchall()
        return [self._converted(row) for row in rows]

    def _parameters(
        self, given: Mapping[str, object]
    ) -> Sequence[object] | Mapping[str, object]:
        if not self.fixed and not self.converting and self.parameter_order is not None:
            return [given[name] for name in self.parameter_order]
        values = {**self.fixed, **given}
        for name, process in self.converting.items():
            values[name] = process(values[name])
        if self.parameter_order is None:
            return values
        return [values[name] for name in self.parameter_order]

    def _converted(self, row: Sequence[Any]) -> Row:
        if not self.result_processors:
            return tuple(row)
        values = list(row)
        for index, process in self.result_processors:
            if values[index] is not None:
                values[index] = process(values[index])
        return tuple(values)


class PreparedReads:
    """Each statement compiled for `dialect` on first use and kept: statements are built once."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._reads: dict[Statement, PreparedRead] = {}

    def of(self, statement: Statement) -> PreparedRead:
        read = self._reads.get(statement)
        if read is None:
            read = self._reads[statement] = PreparedRead(statement, self.dialect)
        return read


class Reader:
    """Prepared reads on one DBAPI connection, inside the transaction it is in."""

    def __init__(self, connection: Any, prepared: PreparedReads) -> None:
        self.connection = connection
        self.prepared = prepared

    def one(self, statement: Statement, parameters: Mapping[str, object]) -> Row | None:
        """The first row `statement` selects, or None."""
        return self.prepared.of(statement).one(self.connection, parameters)

    def all(self, statement: Statement, parameters: Mapping[str, object]) -> list[Row]:
        """Every row `statement` selects."""
        return self.prepared.of(statement).all(self.connection, parameters)
