"""A faithful local double of the Microsoft Graph endpoints syncd uses, over HTTPS.

    from tests.graph import GraphDouble, Faults

    with GraphDouble() as double:
        app = msal.ConfidentialClientApplication(
            double.client_id, client_credential=double.client_secret,
            authority=double.authority, instance_discovery=False,
            http_client=httpx.Client(verify=double.tls_verify()))
        token = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
        httpx.post(double.graph_url + "/users/anna@contoso.test/calendar/events", ...)

It serves the OpenID configuration and token endpoint MSAL needs (client secret and
certificate credentials), delegated sign-in (authorize with PKCE, authorization code and
refresh token grants; `add_user`, `sign_in` choose who is at the browser and whether
they consent; `revoke_sessions`, `expire_refresh_tokens`, `withdraw_consent` spoil a
grant) and admin consent for other tenants (`add_tenant`), events CRUD with
$filter/$select/$expand/$top, calendarView with paging and recurrence expansion,
getSchedule, $batch, calendarView/delta, and change-notification subscriptions — with
Graph's JSON shapes, error bodies and Outlook's limits (4 concurrent requests per
mailbox, 20 requests per batch, ...). Faults and latency are injectable per test
(`double.faults`, `double.latency_seconds`), and `double.stats` tells what a client did
(peak concurrency, requests sent before a Retry-After elapsed, ...). The interface is
the one agreed in the graph_double_api brief; where Graph's documentation is silent the
module that decides says so.

Notes for clients:
- `double.ca_file` is the CA's path; httpx deprecates `verify=<path>` (an error under
  this project's filterwarnings), so pass `verify=double.tls_verify()` (an SSLContext).
- MSAL's certificate credential posts the client_assertion as bytes, and httpx
  form-encodes a bytes value as its repr ("b'eyJ...'"). Entra ID and the double refuse
  that as a malformed JWT (AADSTS50027): with an httpx `http_client`, decode bytes form
  values to str first (see FormSafeClient in tests/graph/test_auth.py).
- `stats.requests` counts requests to Graph (/v1.0, a $batch being one);
  `stats.token_requests` those to the token endpoint; batch items are in
  `stats.batch_items` and count in `requests_by_mailbox` and the concurrency limit;
  `stats.peak_requests_in_flight` is the most Graph requests answered at once (all
  mailboxes: one per connection, which the client's pool bounds).
- A delegated token acts as its user (/me, /users/{self}, subscriptions on me/events);
  any token reaches its own tenant's mailboxes only. A mailbox never added is made on
  first use unless `double.mailboxes_on_demand = False` (then 404 ErrorInvalidUser).
  Apps that should sign users in need `redirect_uris`; one without secret or
  certificate is a public client. MSAL warns unless `response_mode="form_post"`: the
  double answers it with Entra's self-posting form.
- Mailbox keys in `stats` and `faults.only_mailbox` are user principal names.
- Strict by default: request forms the v1.0 reference does not document are refused
  (tests/graph/forms.py) unless `GraphDouble(undocumented_forms=True)`; DELETE moves an
  event to Deleted Items (same id, still read mailbox-wide); writes answer bodies as
  HTML; time zones are Windows names or the documented IANA list; a throttled $batch
  is 424 (`faults.batch_throttle_rate`: 424 without items); a transactionId of a
  deleted event is refused; /users/{id}/events subscriptions tell of the default
  calendar only.
"""

from tests.graph.double import GraphDouble
from tests.graph.faults import Faults
from tests.graph.limits import Stats
from tests.graph.notifier import Delivery
from tests.graph.tls import AppCertificate

__all__ = ["AppCertificate", "Delivery", "Faults", "GraphDouble", "Stats"]
