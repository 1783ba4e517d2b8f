"""The shapes of what comes in (API payloads, import files), validated as a whole.

Every model forbids unknown fields, so a misspelt key is an error rather than
silently ignored data.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connectors.timerange import EARLIEST, LATEST
from syncd.domain.manage_rules import BookingTerms
from syncd.errors import InputError
from syncd.timeutil import is_timezone

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
MAX_BOOKING_LENGTH = timedelta(days=7)
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_REMINDER_MINUTES = 60 * 24 * 30
MAX_FOLLOW_UP_MINUTES = 60 * 24 * 90


def _known_timezone(name: str) -> str:
    if not is_timezone(name):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin")
    return name


def _single_line(value: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise ValueError("must be a single line")
    return value


TimeZoneName = Annotated[str, AfterValidator(_known_timezone)]
Key = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:~-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_single_line)]
ReminderOffset = Annotated[int, Field(ge=1, le=MAX_REMINDER_MINUTES)]
ReconcileRule = Literal["booking_wins", "calendar_wins", "flag"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MerchantIn(Strict):
    name: Name
    timezone: TimeZoneName
    contact_text: str = Field(default="", max_length=2000)
    booking_page_url: HttpUrl | None = None
    # when a staff calendar disagrees with a booking (syncd/reconcile/rules.py)
    reconcile_rule: ReconcileRule = "booking_wins"


class ServiceIn(Strict):
    name: Name
    duration_minutes: int = Field(ge=1, le=24 * 60)
    buffer_before_minutes: int = Field(default=0, ge=0, le=24 * 60)
    buffer_after_minutes: int = Field(default=0, ge=0, le=24 * 60)
    requires_approval: bool = False
    location: str = Field(default="", max_length=500)
    # customer reminders, e.g. [1440, 60]: a day and an hour before the start
    reminder_minutes_before: list[ReminderOffset] = Field(default_factory=list, max_length=5)
    follow_up_minutes_after: int | None = Field(default=None, ge=0, le=MAX_FOLLOW_UP_MINUTES)
    # ask the customer for a rating this long after the end; None: never
    rating_request_minutes_after: int | None = Field(
        default=None, ge=0, le=MAX_FOLLOW_UP_MINUTES)
    reconcile_rule: ReconcileRule | None = None  # None: the merchant's rule
    # customer self-service through the manage link, off until the merchant turns it on;
    # kept with each booking when it is made
    manage_web_bookings: bool = False
    manage_staff_bookings: bool = False  # bookings staff made on the customer's behalf
    allow_cancel: bool = True
    allow_reschedule: bool = True
    allow_change_staff: bool = False  # to another staff member listed in `staff`
    manage_cutoff_hours: int = Field(default=24, ge=0, le=24 * 365)
    slot_interval_minutes: int = Field(default=15, ge=5, le=24 * 60)
    min_lead_minutes: int = Field(default=60, ge=0, le=60 * 24 * 365)
    max_advance_days: int = Field(default=60, ge=1, le=365)
    staff: list[Key] = Field(default_factory=list, max_length=500)  # who delivers it

    @field_validator("staff")
    @classmethod
    def _distinct_staff(cls, keys: list[str]) -> list[str]:
        if len(set(keys)) != len(keys):
            raise ValueError("each staff member may appear once")
        return keys

    @field_validator("reminder_minutes_before")
    @classmethod
    def _distinct_offsets(cls, offsets: list[int]) -> list[int]:
        if len(set(offsets)) != len(offsets):
            raise ValueError("each reminder offset may appear once")
        return sorted(offsets, reverse=True)


def _hour_range(value: list[str]) -> list[str]:
    if len(value) != 2 or not all(_HHMM.match(v) for v in value):
        raise ValueError('each range is ["HH:MM", "HH:MM"]')
    if value[0] >= value[1]:
        raise ValueError("a range must end after it starts")
    return value


HourRange = Annotated[list[str], AfterValidator(_hour_range)]


class StaffIn(Strict):
    name: Name
    email: EmailStr | None = None
    timezone: TimeZoneName
    working_hours: dict[
        Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[HourRange]
    ] = Field(default_factory=dict)


class BindingIn(Strict):
    """A calendar of a configured connector (`connector`) or of a stored account
    (`account`, the merchant's /accounts/{key}): exactly one of the two."""

    connector: Key | None = None
    account: Key | None = None
    calendar_id: str = Field(min_length=1, max_length=1000)
    active: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> BindingIn:
        if (self.connector is None) == (self.account is None):
            raise ValueError("name exactly one of connector and account")
        return self


class PasswordIn(Strict):
    password: str = Field(min_length=1, max_length=4096)


class AccountIn(Strict):
    """A calendar account stored as data. `settings`: the kind's table without secrets
    (caldav: url, username, verify_tls...); `credential`: its secret, never answered
    back (left out of a change: kept; null: removed)."""

    kind: Key
    settings: dict[str, Any] = Field(default_factory=dict)
    credential: PasswordIn | None = None
    staff: Key | None = None  # who connected it: told when its credential stops working


class CustomerIn(Strict):
    name: Name
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=64, pattern=r"^[0-9 +()./-]+$")
    timezone: TimeZoneName


def _in_sane_range(value: datetime) -> datetime:
    # compared as aware values: no conversion that could overflow at the ends of `datetime`
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must lie from {EARLIEST:%Y-%m-%d} up to {LATEST:%Y-%m-%d} (UTC)")
    return value


# A booking's times: within syncd's range, so that no zone or length can overflow them
BookingTime = Annotated[AwareDatetime, AfterValidator(_in_sane_range)]


class BookingIn(Strict):
    service: Key
    staff: Key
    start: BookingTime
    end: BookingTime | None = None  # defaults to start + the service's duration
    customer: CustomerIn
    origin: Literal["web", "staff"] = "web"
    status: Literal["pending", "confirmed"] | None = None  # None: from the service's rule
    notes: str = Field(default="", max_length=5000)
    paid: bool = False  # told to the customer on cancellation: refunds are the merchant's
    # for origin "staff": may the customer manage it (None: the service's setting); decided
    # when the booking is made and never changed afterwards
    self_manage: bool | None = None
    # with it, for origin "staff": the latest the customer may make changes, and which
    # changes (None: the service's); decided when the booking is made, like the choice
    manage_cutoff_hours: int | None = Field(default=None, ge=0, le=24 * 365)
    manage_actions: list[Literal["cancel", "reschedule"]] | None = Field(
        default=None, max_length=2)

    @field_validator("self_manage", "manage_cutoff_hours", "manage_actions")
    @classmethod
    def _only_for_staff_bookings(cls, value: T, info: ValidationInfo) -> T:
        if value is not None and info.data.get("origin") != "staff":
            raise ValueError('only for bookings staff made (origin "staff")')
        return value

    @field_validator("manage_actions")
    @classmethod
    def _distinct_actions(cls, actions: list[str] | None) -> list[str] | None:
        if actions is not None and len(set(actions)) != len(actions):
            raise ValueError("each action may appear once")
        return actions

    def terms(self) -> BookingTerms:
        actions = None if self.manage_actions is None else tuple(self.manage_actions)
        return BookingTerms(self.manage_cutoff_hours, actions)

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("start")
        if end is None or start is None:
            return end
        if end <= start:
            raise ValueError("end must be after start")
        if end - start > MAX_BOOKING_LENGTH:
            raise ValueError("a booking may last at most 7 days")
        return end


class CloneIn(Strict):
    key: Key  # the new booking's platform id
    start: BookingTime | None = None
    end: BookingTime | None = None
    staff: Key | None = None


class ImportedBooking(BookingIn):
    merchant: Key
    key: Key


def field_errors(error: ValidationError) -> dict[str, str]:
    """Each bad field's dotted path mapped to a readable reason."""
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in item["loc"]) or "body"
        fields[path] = item["msg"].removeprefix("Value error, ")
    return fields


def parse(model: type[M], data: object) -> M:
    """Validate `data` as `model`, raising InputError naming every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InputError(field_errors(error)) from None
