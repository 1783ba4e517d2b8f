"""What a customer's action can run into, beyond an unknown link (syncd.errors.NotFound)."""

from __future__ import annotations

from syncd.errors import Conflict


class ActionClosed(Conflict):
    """A rule, the cutoff or the booking's status forbids the action; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_TAKEN = "This time is no longer available. Please choose another."


class SlotTaken(Conflict):
    """The chosen time is not free (any more), or was never offered."""

    def __init__(self, message: str = _TAKEN) -> None:
        super().__init__(message)


class NothingToChange(Conflict):
    """The time and staff member asked for are the booking's own: nothing was moved."""

    def __init__(self) -> None:
        super().__init__("This is already your booking's time.")
