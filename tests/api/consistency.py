"""What must hold of the store after any sequence of requests: nothing half-written."""

from __future__ import annotations

from sqlalchemy import Engine, and_, func, select

from syncd.domain.bookings import BookingStatus
from syncd.store.models import Base, Booking, CalendarBinding, Mirror, Presence


def dangling_references(engine: Engine) -> dict[str, int]:
    """Rows whose foreign key names a row that is not there, per `table.column`."""
    found: dict[str, int] = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for key in table.foreign_keys:
                parent = key.column.table.alias()  # an alias: a table may refer to itself
                referred = parent.c[key.column.name]
                missing = (
                    select(func.count()).select_from(table)
                    .outerjoin(parent, key.parent == referred)
                    .where(and_(key.parent.is_not(None), referred.is_(None)))
                )
                count = connection.execute(missing).scalar_one()
                if count:
                    found[f"{table.name}.{key.parent.name}"] = count
    return found


def mirrors_out_of_step(engine: Engine) -> list[str]:
    """Bookings whose mirrors do not want what the booking is: each live booking present
    at its version on every active calendar of its staff member, absent everywhere else."""
    problems: list[str] = []
    with engine.connect() as connection:
        bookings = connection.execute(select(Booking)).all()
        bindings = connection.execute(select(CalendarBinding)).all()
        mirrors = {(m.booking_id, m.binding_id): m for m in connection.execute(select(Mirror))}
    for booking in bookings:
        live = booking.status != BookingStatus.CANCELLED
        wanted = {b.id for b in bindings
                  if live and b.staff_id == booking.staff_id and b.active}
        for binding_id in wanted:
            mirror = mirrors.get((booking.id, binding_id))
            if mirror is None or (mirror.desired, mirror.desired_version) != (
                    Presence.PRESENT, booking.version):
                problems.append(f"booking {booking.key} on binding {binding_id}: {mirror}")
        for (booking_id, binding_id), mirror in mirrors.items():
            if booking_id == booking.id and binding_id not in wanted and (
                    mirror.desired != Presence.ABSENT):
                problems.append(f"booking {booking.key} left on binding {binding_id}")
    return problems
