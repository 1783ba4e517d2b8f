"""Prometheus metrics of the mail sender. Labels are bounded sets, never an address."""

from __future__ import annotations

from prometheus_client import Counter

MAIL_MESSAGES = Counter(
    "syncd_mail_messages_total",
    "Messages handed to the mail transport, by transport and outcome",
    ["transport", "outcome"],  # sent, retry, failed, server_down
)
REMINDERS_QUEUED = Counter(
    "syncd_reminders_queued_total", "Reminders and follow-ups that became outbox messages"
)
