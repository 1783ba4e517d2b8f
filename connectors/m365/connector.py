"""A Microsoft 365 tenant through one app registration: its token, its HTTP client, and
the request queue and limits of every mailbox it writes to."""

from __future__ import annotations

from connectors.base import Calendar, Connector
from connectors.errors import PermanentError
from connectors.m365.auth import TokenSource, msal_app_factory
from connectors.m365.batch import Batcher, BatchOptions
from connectors.m365.calendar import CalendarTarget, InvalidCalendar, M365Calendar
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
            return f"mailbox:{CalendarTarget.parse(calendar_id).mailbox_key}"
        except PermanentError:
            return super().lease_key(calendar_id)

    def _new_calendar(self, calendar_id: str) -> Calendar:
        try:
            target = CalendarTarget.parse(calendar_id)
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


def build(settings: Settings) -> M365Connector:
    """A connector for the app in `settings`; `ConfigError` if its credential is missing."""
    credential = read_credential(settings)
    verify = tls_verification(settings.ca_file)
    token_client = new_token_client(settings, verify)
    make_app = msal_app_factory(settings.client_id, credential, settings.authority, token_client)
    tokens = TokenSource(make_app, settings.token_scope, token_client)
    http = GraphHttp(new_graph_client(settings, verify), settings.graph_url)
    return M365Connector(settings, http, tokens)
