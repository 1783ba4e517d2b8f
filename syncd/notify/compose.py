"""From a claimed outbox row to the finished message the transport sends."""

from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email

from syncd.config import MailSettings
from syncd.notify.calendar import Party, invitation
from syncd.notify.connect_notice import ConnectLinkNotice
from syncd.notify.connect_notice import notice_context as connect_context
from syncd.notify.facts import BookingFacts
from syncd.notify.kinds import KINDS, MessageKind
from syncd.notify.mime import CalendarPart, Headers, Mailbox, build_message
from syncd.notify.queue import Letter
from syncd.notify.sealed import LinkSeal
from syncd.notify.templates import MailTemplates
from syncd.notify.times import format_span
from syncd.notify.transport import Envelope, PermanentMailError
from syncd.notify.unreadable_notice import UnreadableNotice, notice_context
from syncd.timetext import clock, short_day
from syncd.timeutil import zone

# A plain ASCII address (dot-atom local part, host name) needs no further checks.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
MAX_ADDRESS = 254


def checked_address(address: str) -> str:
    """`address` fit for an SMTP envelope and a header, or a PermanentMailError."""
    if len(address) <= MAX_ADDRESS and _PLAIN_ADDRESS.fullmatch(address):
        return address
    try:
        valid = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        raise PermanentMailError("not a valid email address") from None
    if valid.ascii_email is None:
        raise PermanentMailError("the address needs SMTPUTF8, which syncd does not send")
    return valid.ascii_email


def _usable(address: str | None) -> str | None:
    """A reply-to that would break the message is left out, not allowed to fail it."""
    try:
        return checked_address(address) if address else None
    except PermanentMailError:
        return None


def _short(facts: BookingFacts, zone_name: str) -> str:
    local = facts.start.astimezone(zone(zone_name))
    return f"{short_day(local)} {local.year}, {clock(local)}"


def template_context(
    letter: Letter, facts: BookingFacts, manage_url: str | None
) -> dict[str, Any]:
    zone_name = letter.timezone
    rating_url = manage_url if letter.kind == MessageKind.RATING_REQUEST else None
    if rating_url is not None:
        manage_url = None  # the sealed link of a rating request is its rating link
    previous = None
    if facts.previous_start is not None and facts.previous_end is not None:
        previous = format_span(facts.previous_start, facts.previous_end, zone_name)
    return {
        "recipient": {
            "name": letter.to_name,
            "audience": letter.audience,
            "role": letter.payload.get("role"),
        },
        "merchant": {
            "key": facts.merchant_key,
            "name": facts.merchant_name,
            "contact_text": facts.contact_text,
            "booking_page_url": facts.booking_page_url,
        },
        "booking": facts,
        "when": format_span(facts.start, facts.end, zone_name),
        "short_when": _short(facts, zone_name),
        "previous_when": previous,
        "timezone": zone_name,
        "manage_url": manage_url,
        "minutes": letter.payload.get("minutes"),
        "actor": letter.payload.get("actor"),
        "rating_url": rating_url,  # rating requests
        "rating": letter.payload.get("rating"),  # rating notices
        "conflict": letter.payload.get("conflict"),  # conflict notices (syncd/reconcile)
    }


class Composer:
    def __init__(self, settings: MailSettings, manage_secret: str | None = None) -> None:
        self.seal = LinkSeal(manage_secret)
        self.from_address = str(settings.from_address)
        self.default_reply_to = settings.reply_to
        self.templates = MailTemplates(settings.templates_dir)

    @property
    def domain(self) -> str:
        return self.from_address.rpartition("@")[2]

    def envelope(self, letter: Letter) -> Envelope:
        """The message for `letter`; PermanentMailError if it can never be sent."""
        recipient = checked_address(letter.to_address)
        kind = MessageKind(letter.kind)
        if not KINDS[kind].about_booking:
            return self._notice(letter, kind, recipient)
        facts = BookingFacts.from_json(letter.payload["facts"])
        context = template_context(letter, facts, self.seal.open(letter.manage_link))
        rendered = self.templates.render(kind, facts.merchant_key, context)
        data = build_message(
            self._headers(letter, (facts.merchant_name, facts.reply_to), recipient,
                          rendered.subject),
            rendered.text,
            rendered.html,
            self._calendar(kind, facts, letter, recipient),
        )
        return Envelope(self.from_address, recipient, data, letter.message_id)

    def _notice(self, letter: Letter, kind: MessageKind, recipient: str) -> Envelope:
        """A message about no booking: its payload's "notice" says what it tells."""
        notice, context = self._notice_context(letter, kind)
        rendered = self.templates.render(kind, notice.merchant_key, context)
        sender = (notice.merchant_name, notice.reply_to)
        headers = self._headers(letter, sender, recipient, rendered.subject)
        data = build_message(headers, rendered.text, rendered.html, None)
        return Envelope(self.from_address, recipient, data, letter.message_id)

    def _notice_context(
        self, letter: Letter, kind: MessageKind
    ) -> tuple[UnreadableNotice | ConnectLinkNotice, dict[str, Any]]:
        if kind != MessageKind.CONNECT_LINK:
            unreadable = UnreadableNotice.from_json(letter.payload["notice"])
            return unreadable, notice_context(letter, unreadable)
        notice = ConnectLinkNotice.from_json(letter.payload["notice"])
        link = self.seal.open(letter.manage_link)
        if link is None:  # without its link the message says nothing worth sending
            raise PermanentMailError("the connect link cannot be opened (another manage secret?)")
        return notice, connect_context(letter, notice, link)

    def _headers(
        self, letter: Letter, merchant: tuple[str, str | None], recipient: str, subject: str
    ) -> Headers:
        """`merchant`: its name and its reply-to address, if any."""
        name, own_reply_to = merchant
        reply_to = _usable(own_reply_to) or _usable(self.default_reply_to)
        return Headers(
            sender=Mailbox(name, self.from_address),
            to=Mailbox(letter.to_name, recipient),
            reply_to=Mailbox(name, reply_to) if reply_to else None,
            subject=subject,
            date=letter.queued_at,
            message_id=letter.message_id,
        )

    def _calendar(
        self, kind: MessageKind, facts: BookingFacts, letter: Letter, recipient: str
    ) -> CalendarPart | None:
        method = KINDS[kind].calendar
        if method is None:
            return None
        organizer = Party(facts.merchant_name, self.from_address)
        attendee = Party(letter.to_name, recipient)
        ics = invitation(facts, method, organizer, attendee, letter.queued_at)
        return CalendarPart(method, ics)
