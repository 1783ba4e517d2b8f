"""CPU per item on three more hot paths, each against its floor (the bare library call).

    reconcile  one changed calendar object read by a pass: the sync-collection and
               calendar-multiget answers parsed, the object read and placed in time
               (connectors/caldav/sync.py `changes`, as a delta), and recognised against
               its booking (syncd/reconcile/recognise.py) -- vs `icalendar.Calendar.from_ical`
               of the same calendar data
    mail       one message composed by the mail sender's Composer from a claimed outbox row
               (templates, invitation, MIME) -- vs an `email.message.EmailMessage` with the
               same headers, text and HTML bodies, `as_bytes()`
    webhooks   one delivery's request headers as the sender makes them before its POST
               (syncd/webhooks/attempt.py, signing.py) -- vs a bare `hmac.new(...).digest()`
               and base64 of the same signed content

The items are made through syncd's own code (bookings stored, outbox rows and
deliveries queued and claimed as the daemon does); only the timed loops differ.
Each round runs syncd's loop and the floor's over every item, alternately, and
reads this process's CPU time around each; the median of the rounds is printed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import icalendar
from sqlalchemy import select

from connectors.base import ChangeWindow, EventSpec, EventStatus
from connectors.caldav.ical import event_to_ical
from connectors.caldav.sync import changes
from syncd.config import Settings
from syncd.notify.compose import Composer, template_context
from syncd.notify.facts import BookingFacts
from syncd.notify.kinds import MessageKind
from syncd.notify.models import OutboxMessage
from syncd.notify.queue import Letter, message_id_for
from syncd.reconcile.recognise import CalendarSide, drift
from syncd.runtime import Runtime
from syncd.schemas import ServiceIn
from syncd.store.catalog import get_merchant, upsert_service
from syncd.store.schema import upgrade
from syncd.webhooks import attempt, queue
from syncd.webhooks.outbox import EventType
from syncd.webhooks.signing import secret_key
from syncd.webhooks.subscriptions import WebhookIn, upsert_subscription
from syncd.wiring import build_runtime
from tests import factories as f
from tests.notify import shop

TARGET = 2.0  # syncd's CPU per item at most twice its floor's
CALENDAR = "/cal/"
_BERLIN = ZoneInfo("Europe/Berlin")


@dataclass(frozen=True)
class PathCase:
    name: str
    items: int
    syncd: Callable[[], object]  # syncd's path over every item once
    floor: Callable[[], object]  # the bare library call over the same items
    close: Callable[[], object] = lambda: None


@dataclass(frozen=True)
class PathFigures:
    name: str
    syncd: float  # CPU ms per item, median of the rounds
    floor: float

    @property
    def ratio(self) -> float:
        return self.syncd / self.floor


def measure(case: PathCase, rounds: int) -> PathFigures:
    try:
        case.syncd(), case.floor()  # warm: imports, caches, templates read once
        ours, floor = [], []
        for _ in range(rounds):
            ours.append(_cpu_ms(case.syncd) / case.items)
            floor.append(_cpu_ms(case.floor) / case.items)
    finally:
        case.close()
    return PathFigures(case.name, statistics.median(ours), statistics.median(floor))


def _cpu_ms(run: Callable[[], object]) -> float:
    started = time.process_time()
    run()
    return (time.process_time() - started) * 1000


def report(figures: list[PathFigures], rounds: int) -> None:
    print(f"\nper item, CPU ms, median of {rounds} round(s)")
    print("  path        syncd ms/item  floor ms/item  ratio")
    for figure in figures:
        verdict = "met" if figure.ratio <= TARGET else "NOT met"
        print(f"  {figure.name:<10}  {figure.syncd:13.4f}  {figure.floor:13.4f}  "
              f"{figure.ratio:5.2f}x   (target <= {TARGET:g}x: {verdict})")


# -- reconcile ---------------------------------------------------------------------------

FOREIGN = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Apple Inc.//macOS 14.5//EN\r
CALSCALE:GREGORIAN\r
BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
DTSTART:19810329T020000\r
TZNAME:CEST\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
DTSTART:19961027T030000\r
TZNAME:CET\r
TZOFFSETTO:+0100\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
CREATED:20300101T090000Z\r
DTEND;TZID=Europe/Berlin:{end}\r
DTSTAMP:20300101T090000Z\r
DTSTART;TZID=Europe/Berlin:{start}\r
LAST-MODIFIED:20300101T090000Z\r
LOCATION:Room 2\r
ORGANIZER;CN=Alice:mailto:alice@salon.example\r
ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:bob@salon.example\r
ATTENDEE;CN=Carol;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carol@salon.example\r
DESCRIPTION:Supplier visit {index}: new colours\\, prices for the spring\r
 \\nand the order for April.\r
SEQUENCE:1\r
SUMMARY:Supplier visit {index}\r
TRANSP:OPAQUE\r
UID:{index}-foreign@example.com\r
X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
DESCRIPTION:Reminder\r
TRIGGER:-PT15M\r
UID:{index}-alarm\r
END:VALARM\r
END:VEVENT\r
END:VCALENDAR\r
"""


@dataclass(frozen=True)
class _Object:
    href: str
    data: str
    booking: tuple[datetime, datetime] | None  # the booking's times, for syncd's own events


def calendar_objects(count: int) -> list[_Object]:
    """Changed objects as a pass meets them: half syncd's own events, moved by hand (their
    booking at another time), half events a calendar client wrote."""
    objects = []
    for index in range(count):
        start = f.slot(index)
        if index % 2:
            data = _foreign(index, start)
            objects.append(_Object(f"{CALENDAR}{index}.ics", data, None))
            continue
        spec = EventSpec(booking_key=f"b{index}", summary="Haircut: Customer",
                         description="Booked online", location="Main Street 1", start=start,
                         end=start + timedelta(minutes=30), timezone="Europe/Berlin",
                         status=EventStatus.CONFIRMED, sequence=1)
        moved = event_to_ical(spec).decode().replace(
            f"{start.astimezone(_BERLIN):%Y%m%dT%H%M%S}",
            f"{(start + timedelta(hours=1)).astimezone(_BERLIN):%Y%m%dT%H%M%S}", 1)
        objects.append(_Object(f"{CALENDAR}{index}.ics", moved, (spec.start, spec.end)))
    return objects


def _foreign(index: int, start: datetime) -> str:
    local = start.astimezone(_BERLIN)
    return FOREIGN.format(index=index, start=f"{local:%Y%m%dT%H%M%S}",
                          end=f"{local + timedelta(minutes=45):%Y%m%dT%H%M%S}")


class _Answers:
    """A calendar collection that answers from memory: the feed's HTTP left out."""

    path = CALENDAR

    def __init__(self, objects: list[_Object]) -> None:
        self.by_href = {o.href: o for o in objects}
        self.sync_answer = _multistatus(
            "".join(_response(o.href, f"e{i}") for i, o in enumerate(objects)), token="t1")
        self.etags = {o.href: f"e{i}" for i, o in enumerate(objects)}

    async def report(self, body: bytes, depth: str) -> bytes:
        if b"sync-collection" in body:
            return self.sync_answer
        hrefs = [h.split(b"<", 1)[0].decode() for h in body.split(b"href>")[1::2]]
        return _multistatus("".join(
            _response(href, self.etags[href], self.by_href[href].data) for href in hrefs
        ))

    async def propfind(self, body: bytes, depth: str) -> bytes:
        raise AssertionError("a delta never lists the collection")

    async def floating_zone(self, needed: bool) -> tzinfo:
        return _BERLIN


def _multistatus(responses: str, token: str | None = None) -> bytes:
    sync_token = f"<D:sync-token>{token}</D:sync-token>" if token else ""
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:" '
            f'xmlns:C="urn:ietf:params:xml:ns:caldav">{responses}{sync_token}'
            "</D:multistatus>").encode()


def _response(href: str, etag: str, data: str | None = None) -> str:
    calendar = "" if data is None else f"<C:calendar-data>{escape(data)}</C:calendar-data>"
    return (f"<D:response><D:href>{href}</D:href><D:propstat><D:prop>"
            f'<D:getetag>"{etag}"</D:getetag>{calendar}</D:prop>'
            "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>")


def reconcile_case(count: int) -> PathCase:
    objects = calendar_objects(count)
    source = _Answers(objects)
    now = f.slot(0) - timedelta(days=1)
    window = ChangeWindow(now - timedelta(days=1), now + timedelta(days=400))
    booked = {o.href: o.booking for o in objects}
    datas = [o.data.encode() for o in objects]

    # one loop, as in the worker (asyncio.run would also set up and restore signal handlers)
    loop = asyncio.new_event_loop()

    def syncd() -> None:
        answer = loop.run_until_complete(changes(source, "t0", window, {}))
        assert len(answer.changed) == count, answer.unreadable_details
        for event in answer.changed:
            side = CalendarSide.of(event)
            times = booked[event.ref.remote_id]
            if times is not None:
                drift(*times, side, removal_reported=False)

    def floor() -> None:
        for data in datas:
            icalendar.Calendar.from_ical(data)

    return PathCase("reconcile", count, syncd, floor, loop.close)


# -- mail --------------------------------------------------------------------------------

def _mail_runtime(workdir: Path) -> Runtime:
    secret = workdir / "manage.secret"
    secret.write_text("bench-manage-secret")
    settings = Settings.model_validate({
        "database": {"url": f"sqlite:///{workdir}/cost-mail.db"},
        "mail": {"transport": "file", "directory": str(workdir / "mail")},
        # customers' messages carry their sealed manage links, as in a deployment
        "manage": {"public_url": "https://book.salon.example", "secret_env": None,
                   "secret_file": str(secret)},
    })
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    return runtime


def letters(workdir: Path, bookings: int) -> tuple[Composer, list[Letter]]:
    """The outbox rows that booking `bookings` times queues (the customer's confirmation,
    the staff member's and the owner's notices), as the sender claims them."""
    runtime = _mail_runtime(workdir)
    try:
        with runtime.sessions.begin() as session:
            shop.seed(session)
            salon = get_merchant(session, shop.MERCHANT)
            upsert_service(session, salon, "cut", ServiceIn(
                name="Haircut", duration_minutes=30, location="Main Street 1",
                manage_web_bookings=True))
        for first in range(0, bookings, 500):
            with runtime.sessions.begin() as session:
                for index in range(first, min(first + 500, bookings)):
                    shop.book(session, f"b{index}", start=f.slot(index))
        composer = Composer(runtime.settings.mail, runtime.settings.manage.secret())
        with runtime.sessions.begin() as session:
            rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            found = [
                Letter(row.id, row.kind, row.audience, row.to_address, row.to_name,
                       row.timezone, row.payload,
                       message_id_for(row.id, row.payload, composer.domain), 0,
                       row.queued_at, row.manage_link)
                for row in rows
            ]
        return composer, found
    finally:
        runtime.close()


@dataclass(frozen=True)
class _PlainMessage:
    """What the floor's message holds: the same headers and bodies as syncd's."""

    sender: str
    to: str
    subject: str
    date: str
    message_id: str
    text: str
    html: str

    def as_bytes(self) -> bytes:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, self.to, self.subject
        message["Date"], message["Message-ID"] = self.date, self.message_id
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message.as_bytes()


def _plain_message(composer: Composer, letter: Letter) -> _PlainMessage:
    facts = BookingFacts.from_json(letter.payload["facts"])
    context = template_context(letter, facts, composer.seal.open(letter.manage_link))
    rendered = composer.templates.render(MessageKind(letter.kind), facts.merchant_key, context)
    return _PlainMessage(
        formataddr((facts.merchant_name, composer.from_address)),
        formataddr((letter.to_name, letter.to_address)),
        rendered.subject, format_datetime(letter.queued_at), letter.message_id,
        rendered.text, rendered.html,
    )


def mail_case(workdir: Path, bookings: int) -> PathCase:
    composer, queued = letters(workdir, bookings)
    plain = [_plain_message(composer, letter) for letter in queued]

    def syncd() -> None:
        for letter in queued:
            composer.envelope(letter)

    def floor() -> None:
        for message in plain:
            message.as_bytes()

    return PathCase("mail", len(queued), syncd, floor)


# -- webhooks ----------------------------------------------------------------------------

def _webhook_runtime(workdir: Path) -> Runtime:
    settings = Settings.model_validate({
        "database": {"url": f"sqlite:///{workdir}/cost-webhooks.db"},
    })
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    return runtime


def claimed_deliveries(workdir: Path, bookings: int) -> list[queue.Outgoing]:
    """booking.created for `bookings` bookings, queued by the store and claimed as the sender
    claims them."""
    runtime = _webhook_runtime(workdir)
    try:
        with runtime.sessions.begin() as session:
            merchant = f.merchant(session)
            f.service(session, merchant)
            data = WebhookIn.model_validate(
                {"url": "https://hooks.example.com/syncd", "events": list(EventType)})
            upsert_subscription(session, merchant, "platform", data)
            f.staff_with_calendar(session, merchant, "alice", "/alice/")
        for first in range(0, bookings, 500):
            with runtime.sessions.begin() as session:
                for index in range(first, min(first + 500, bookings)):
                    f.book(session, f"b{index}", "alice", f.slot(index))
        now = datetime.now(UTC) + timedelta(seconds=1)
        claim = queue.Claim(owner="bench", now=now, lease_until=now + timedelta(hours=1),
                            total=bookings, room={}, fresh_room=bookings, busy=frozenset())
        with runtime.sessions.begin() as session:
            return queue.claim_due(session, claim)
    finally:
        runtime.close()


def webhooks_case(workdir: Path, bookings: int) -> PathCase:
    deliveries = claimed_deliveries(workdir, bookings)
    timestamp = int(time.time())
    keys = [(secret_key(d.signing_secrets[0]), d.message_id, d.body) for d in deliveries]

    def syncd() -> None:
        for outgoing in deliveries:
            attempt.request_headers(outgoing, timestamp)

    def floor() -> None:
        for key, message_id, body in keys:
            signed = f"{message_id}.{timestamp}.".encode() + body
            base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())

    return PathCase("webhooks", len(deliveries), syncd, floor)
