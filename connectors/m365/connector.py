"""A Microsoft 365 tenant through one app registration: its token, its HTTP client, and
the request queue and limits of every mailbox it writes to."""

from __future__ import annotations

from connectors.base import Calendar, Connector
from connectors.errors import PermanentError
from connectors.m365.auth import TokenSource, msal_app_factory
from connectors.m365.batch import Batcher, BatchOptions
from connectors.m365.calendar import CalendarTarget, InvalidCalendar, M365Calendar
from connectors.m365.calendars import CalendarChoice, calendars_of
from connectors.m365.credential import Credential
from connectors.m365.delegated import DelegatedTokenSource, load_cache
from connectors.m365.events import Reminder
from connectors.m365.http import GraphHttp, new_graph_client, new_token_client
from connectors.m365.limiter import MailboxLimiter
from connectors.m365.settings import Settings, read_credential
from connectors.transport import tls_verification


class M365Connector(Connector):
    """Calendar ids are `<user>` or `<user>/<calendar id>` (see connectors.m365.calendar)."""

    def __init__(self, settings: Settings, http: GraphHttp, tokens: TokenSource) -> None:
        self.concurrency_per_calendar = settings.concurrency_per_calendar
        self.settings = settings
        self.tokens = tokens
        self._http = http
        self._options = BatchOptions(
            batch_size=settings.batch_size,
            linger_seconds=settings.batch_linger_seconds,
            throttle_retries=settings.throttle_retries,
            retry_base_seconds=settings.retry_base_seconds,
            retry_max_seconds=settings.retry_max_seconds,
        )
        self._reminder = Reminder(settings.reminders, settings.reminder_minutes)
        self._batchers: dict[str, Batcher] = {}
        self.limiters: dict[str, MailboxLimiter] = {}
        self._calendars: dict[str, Calendar] = {}

    def calendar(self, calendar_id: str) -> Calendar:
        if calendar_id not in self._calendars:
            self._calendars[calendar_id] = self._new_calendar(calendar_id)
        return self._calendars[calendar_id]

    def lease_key(self, calendar_id: str) -> str:
        """The mailbox: Outlook's 4 concurrent requests are per mailbox, whatever the
        calendar, so all of a mailbox's calendars are served by one worker at a time."""
        try:
            return f"mailbox:{self._parse(calendar_id).mailbox_key}"
        except PermanentError:
            return super().lease_key(calendar_id)

    def _new_calendar(self, calendar_id: str) -> Calendar:
        try:
            target = self._parse(calendar_id)
        except PermanentError as error:
            return InvalidCalendar(calendar_id, error)
        batcher = self._batcher(target.mailbox_key)
        return M365Calendar(
            calendar_id,
            target,
            batcher,
            self._reminder,
            self._http.relative,
            poll_seconds=self.settings.other_calendar_poll_seconds,
        )

    def _parse(self, calendar_id: str) -> CalendarTarget:
        return CalendarTarget.parse(calendar_id, delegated=self.settings.sign_in == "delegated")

    async def list_calendars(self, mailbox: str) -> list[CalendarChoice]:
        """The calendars of `mailbox` (`me` for a signed-in account), to choose one to bind.

        `RemoteNotFound`: Graph knows no such mailbox; `AuthError`: this account may not
        read it (no consent in that organisation, or not the signed-in user's own)."""
        target = self._parse(mailbox)
        if target.calendar is not None:
            raise PermanentError(f"{mailbox!r} names a calendar, not a mailbox")
        send = self._batcher(target.mailbox_key).send
        return await calendars_of(target, send, self._http.relative)

    def _batcher(self, mailbox: str) -> Batcher:
        """The one queue of a mailbox, whichever of its calendars asks."""
        if mailbox not in self._batchers:
            limiter = MailboxLimiter(self.settings.requests_per_mailbox)
            self.limiters[mailbox] = limiter
            self._batchers[mailbox] = Batcher(self._http, self.tokens, limiter, self._options)
        return self._batchers[mailbox]

    async def check(self) -> None:
        """Acquire an app-only token: the authority answers and takes the credential."""
        await self.tokens.token()

    async def aclose(self) -> None:
        for batcher in self._batchers.values():
            await batcher.aclose()
        await self._http.aclose()
        self.tokens.close()


def calendar_identity(settings: Settings, calendar_id: str) -> str | None:
    """The calendar's mailbox and id in the tenant (see `connectors.calendar_identity`;
    a signed-in account's `me` is its user); None for an id that is not the account's.
    A mailbox named once by principal name and once by
    object id, or the default calendar once by `<user>` and once by its id, are not
    recognised as the same: that would take a request to Graph."""
    delegated = settings.sign_in == "delegated"
    try:
        target = CalendarTarget.parse(calendar_id, delegated=delegated)
    except PermanentError:
        return None
    mailbox = settings.user if target.is_me else target.mailbox
    if mailbox is None:
        return None
    calendar = target.calendar or ""
    return f"m365:{settings.tenant_id.lower()}:{mailbox.lower()}:{calendar}"


def build(settings: Settings) -> M365Connector:
    """A connector for the app in `settings`; `ConfigError` if its credential is missing.

    A delegated account needs its token cache: `build_with_credential`. Built
    without one, its every request is an `AuthError` asking for a sign-in.
    """
    return _build(settings, None)


def build_with_credential(settings: Settings, credential: Credential) -> M365Connector:
    """A connector for a stored account: for `sign_in = "delegated"` the user's token cache
    is read from `credential` and every change MSAL makes to it is handed to
    `credential.write`; an app sign-in keeps its app credential in the table, and
    `credential` is not used."""
    return _build(settings, credential)


def _build(settings: Settings, credential: Credential | None) -> M365Connector:
    app_credential = read_credential(settings)
    verify = tls_verification(settings.ca_file)
    token_client = new_token_client(settings, verify)
    http = GraphHttp(new_graph_client(settings, verify), settings.graph_url)
    if settings.sign_in == "app":
        make_app = msal_app_factory(
            settings.client_id, app_credential, settings.authority, token_client
        )
        tokens = TokenSource(make_app, settings.token_scope, token_client)
        return M365Connector(settings, http, tokens)
    held = credential if credential is not None else _NoCredential()
    cache = load_cache(held)
    # The authority the user signed in at: MSAL keys the cached tokens by its tenant
    # ("common" stays "common"), and refresh tokens are redeemed there.
    make_app = msal_app_factory(
        settings.client_id, app_credential, settings.sign_in_authority, token_client, cache
    )
    assert settings.user is not None  # the settings' validator asks for it
    delegated = DelegatedTokenSource(make_app, cache, held, settings.user, token_client)
    return M365Connector(settings, http, delegated)


class _NoCredential:
    def read(self) -> str | None:
        return None

    def write(self, secret: str) -> None:
        raise AssertionError("nothing was read, so nothing can have changed")
