"""The connect page's work, without a web framework: a staff member connects their own calendar.

    link (syncd/store/connect_tokens.py)  ─ opens ─▶  views.open_link: who, and what is connected
    caldav.find_calendars(address, user, password)  ─▶  a draft with the calendars found
    m365 sign-in (connectors/m365/signin.py)        ─▶  a draft with the calendars found
    binding.connect(draft, chosen calendar)         ─▶  an account of the merchant's + a binding
    binding.disconnect(binding)                     ─▶  syncing stops; events already there stay

A draft is what a connection in several steps has gathered (a password, a token
cache, the calendars found); it is kept sealed on the link's row (drafts.py),
never in the browser. Every failure a person can meet is a `ConnectError`
(problems.py) whose title and text say what to do.
"""
