"""Notifications and reminders: who is told of a booking change, by which email.

    booking change ──listener, same transaction──▶ mail_outbox rows; reminders moved/dropped
    reminder due ──sender──▶ one mail_outbox row (never two per reminder)
    mail_outbox ──sender: claim (commit) → compose → transport → record──▶ sent / failed

- listener.py is the listener (syncd.wiring.CHANGE_LISTENERS): recipients.py says
  who is told what, preferences.py what they asked for, reminders.py keeps the
  scheduled reminders in step, facts.py freezes what a message will say.
- sender.py is the background service (syncd.wiring.BACKGROUND_SERVICES): it
  promotes due reminders, claims due rows (queue.py) and hands each batch to
  delivery.py, whose lanes compose (compose.py: templates.py, calendar.py for
  the iMIP invitation, mime.py) and send through a transport (transport/:
  SMTP, or .eml files for the embedded default).
- A message is composed from the facts frozen into its row when it was queued,
  and keeps the Message-ID fixed at its first claim, so a resend after a crash
  is the same message, recognisable as such, and a later change of the booking
  never rewrites an earlier message.
"""
