"""Customer self-service: the "Manage your booking" link, its rules, slots and actions.

    rules.py     who may do what, and until when (pure)
    slots.py     free start times from working hours, bookings and busy time (pure)
    days.py      the free starts by the customer's calendar day (pure)
    offsets.py   where a time zone's offset from UTC changes, worked out once a day (pure)
    tokens.py    the secret link: issued, hashed, found, revoked
    busy.py      the staff calendars' busy time, read through the connectors and cached
    service.py   what the manage pages call: view, list slots, reschedule, cancel
    views.py     the plain data the pages show
"""
