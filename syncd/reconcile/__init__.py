"""Reconciliation: watching the staff calendars and settling what disagrees with the bookings.

    worker (same lease and limits as mirroring)
      └─ passes.reconcile_pass ──▶ Calendar.changes (connectors/base.py) ──▶ ChangeSet
           └─ apply.apply_pass, one transaction:
                recognise (pure) ──▶ rules.decide (pure) ──▶ mirrors / bookings / conflicts
                seen events + observed busy time ──▶ overlaps ──▶ conflicts

Modules: `models` (tables), `window` (what is watched), `state` (cursor, due
passes), `recognise` and `rules` (pure decisions), `apply` (one pass's
writes), `conflicts` (the conflict store and its resolutions), `busy`
(observed busy time for the slot finder), `passes` (the async pass), `views`
(JSON for the API and the CLI), `cli`; `push/` (change notifications the
services push: their subscriptions, kept before a pass, and the web routes that
make a pass due at once).
"""
