"""Merchants, services, staff and calendar bindings: created and updated by key."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.errors import Conflict, InputError, NotFound
from syncd.schemas import BindingIn, MerchantIn, ServiceIn, StaffIn
from syncd.store.accounts import registry_name
from syncd.store.mirrors import bind_calendar_to_bookings
from syncd.store.models import Base, CalendarBinding, ConnectorAccount, Merchant, Service, Staff

T = TypeVar("T", bound=Base)

CALENDAR_BOUND = "this calendar is already bound to a staff member"
CALENDAR_BOUND_ELSEWHERE = (
    "this calendar is already bound to a staff member through another account or connector;"
    " binding it twice would put every booking on it twice"
)


_LOOKUPS = "syncd.lookups"


def _remembered(session: Session) -> dict[tuple[object, ...], Any]:
    """Rows already looked up in this transaction (a back-fill names the same ones often)."""
    return session.info.setdefault(_LOOKUPS, {})  # type: ignore[no-any-return]


def get_merchant(session: Session, key: str) -> Merchant:
    remembered = _remembered(session)
    merchant = remembered.get((Merchant, key))
    if merchant is None:
        merchant = session.scalar(select(Merchant).where(Merchant.key == key))
    if merchant is None:
        raise NotFound(f"merchant {key!r}")
    remembered[(Merchant, key)] = merchant
    return merchant


def find_in_merchant(
    session: Session, model: type[T], merchant: Merchant, key: str, *, lock: bool = False
) -> T | None:
    """The merchant's row with this key; `lock` holds it until commit (PostgreSQL)."""
    query = select(model).where(
        model.merchant_id == merchant.id,  # type: ignore[attr-defined]
        model.key == key,  # type: ignore[attr-defined]
    )
    return session.scalar(query.with_for_update() if lock else query)


def get_in_merchant(
    session: Session, model: type[T], merchant: Merchant, key: str, *, lock: bool = False
) -> T:
    found = find_in_merchant(session, model, merchant, key, lock=lock)
    if found is None:
        raise NotFound(f"{model.__tablename__.rstrip('s')} {key!r}")
    return found


def reference(session: Session, model: type[T], merchant: Merchant, key: str, field: str) -> T:
    """A row named inside a payload; a missing one is a bad field, not a 404."""
    remembered = _remembered(session)
    found = remembered.get((model, merchant.id, key))
    if found is None:
        found = find_in_merchant(session, model, merchant, key)
    if found is None:
        raise InputError({field: f"no {field} {key!r} for this merchant"})
    remembered[(model, merchant.id, key)] = found
    return found


def _found_or_added(
    session: Session, model: type[T], merchant: Merchant, key: str
) -> tuple[T, bool]:
    """The merchant's row with this key, or a new one added to the session; and whether new."""
    found = find_in_merchant(session, model, merchant, key)
    if found is not None:
        return found, False
    added = model(merchant_id=merchant.id, key=key)
    session.add(added)
    return added, True


def _assign(row: Base, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(row, name, value)


def upsert_merchant(session: Session, key: str, data: MerchantIn) -> tuple[Merchant, bool]:
    values = data.model_dump(mode="json")
    merchant = session.scalar(select(Merchant).where(Merchant.key == key))
    created = merchant is None
    if merchant is None:
        merchant = Merchant(key=key)
        session.add(merchant)
    _assign(merchant, values)
    session.flush()
    return merchant, created


def upsert_service(
    session: Session, merchant: Merchant, key: str, data: ServiceIn
) -> tuple[Service, bool]:
    service, created = _found_or_added(session, Service, merchant, key)
    # a field the request leaves out keeps its stored value: an update never turns a
    # setting (self-service above all) back to its default by omission
    given = data.model_fields_set if not created else set(ServiceIn.model_fields)
    _assign(service, data.model_dump(include=given - {"staff"}))
    if "staff" in given:
        service.delivered_by = [
            reference(session, Staff, merchant, staff_key, f"staff.{index}")
            for index, staff_key in enumerate(data.staff)
        ]
    session.flush()
    return service, created


def upsert_staff(
    session: Session, merchant: Merchant, key: str, data: StaffIn
) -> tuple[Staff, bool]:
    staff, created = _found_or_added(session, Staff, merchant, key)
    _assign(staff, data.model_dump(mode="json"))
    session.flush()
    return staff, created


def _find_binding(session: Session, staff: Staff, key: str) -> CalendarBinding | None:
    return session.scalar(
        select(CalendarBinding).where(
            CalendarBinding.staff_id == staff.id, CalendarBinding.key == key
        )
    )


def get_binding(session: Session, staff: Staff, key: str) -> CalendarBinding:
    binding = _find_binding(session, staff, key)
    if binding is None:
        raise NotFound(f"calendar binding {key!r}")
    return binding


def upsert_binding(
    session: Session,
    staff: Staff,
    key: str,
    data: BindingIn,
    known_connectors: set[str],
    *,
    identity: str | None = None,
) -> tuple[CalendarBinding, bool]:
    """Bind a calendar to a staff member; their bookings follow it (or leave it).
    `identity`: where the calendar lives (connectors.calendar_identity), if known."""
    connector, account = _binding_source(session, staff, data, known_connectors)
    binding = _find_binding(session, staff, key)
    created = binding is None
    if binding is None:
        binding = _new_binding(session, staff, key, connector, data.calendar_id)
        binding.account_id = None if account is None else account.id
    elif (binding.connector, binding.calendar_id) != (connector, data.calendar_id):
        raise Conflict("a binding's calendar cannot change; bind the new calendar under a new key")
    binding.active = data.active
    hold_identity(session, binding, identity)
    session.flush()
    bind_calendar_to_bookings(session, binding)
    return binding, created


def hold_identity(session: Session, binding: CalendarBinding, identity: str | None) -> None:
    """An active binding holds its calendar's identity; `Conflict` when another active
    binding holds it already (the same calendar through another account or connector).
    An inactive binding holds none, so the calendar can be bound again elsewhere."""
    if not binding.active:
        binding.calendar_identity = None
        return
    if identity is None:
        return  # not known: it keeps what it held
    holder = session.scalar(select(CalendarBinding.id).where(
        CalendarBinding.calendar_identity == identity, CalendarBinding.id != binding.id))
    if holder is not None:
        raise Conflict(CALENDAR_BOUND_ELSEWHERE)
    binding.calendar_identity = identity


def _binding_source(
    session: Session, staff: Staff, data: BindingIn, known_connectors: set[str]
) -> tuple[str, ConnectorAccount | None]:
    """The registry name of the binding's connector, and its stored account if it has one."""
    if data.account is not None:
        merchant = session.get_one(Merchant, staff.merchant_id)
        account = reference(session, ConnectorAccount, merchant, data.account, "account")
        return registry_name(account.id), account
    if data.connector not in known_connectors:
        raise InputError({"connector": f"no connector named {data.connector!r} is configured"})
    return str(data.connector), None


def _new_binding(
    session: Session, staff: Staff, key: str, connector: str, calendar_id: str
) -> CalendarBinding:
    taken = session.scalar(
        select(CalendarBinding).where(
            CalendarBinding.connector == connector,
            CalendarBinding.calendar_id == calendar_id,
        )
    )
    if taken is not None:
        raise Conflict(CALENDAR_BOUND)
    binding = CalendarBinding(
        staff_id=staff.id, key=key, connector=connector, calendar_id=calendar_id
    )
    session.add(binding)
    return binding
