"""Change notifications pushed by the calendar services, for any connector that offers them.

A connector offers them with two capabilities (connectors/push.py): subscriptions
on its calendars (`Calendar.change_subscriptions()`) and a push feed reading the
service's POSTs (its package's `PUSH_FEED`). The core does the rest, the same for
every service:

    settings       the `[reconcile.graph]` table: public_url, lifetimes
    subscriptions  the push_subscriptions table, and the worker's reads and writes of it
    upkeep         in the worker, before a calendar's due pass: create, renew, resync
    notices        a notice checked against its subscription; the calendars it wakes
    endpoint       the web handler's routes: /push/<kind>/... (and former prefixes)
"""
