"""What the rating page calls: store the rating, then tell the platform and the merchant,
all in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from syncd.manage.ratings import rate
from syncd.notify.rating_notice import tell_merchant_of_rating
from syncd.store.session import SyncdSession
from syncd.webhooks.ratings import emit_rating


def give_rating(session: SyncdSession, token: str, stars: int, comment: str, now: datetime) -> None:
    """Give or change the rating of the booking the link names (syncd.manage.ratings.rate)."""
    booking, rating = rate(session, token, stars, comment, now)
    changed = rating.changed_at != rating.rated_at
    emit_rating(session, booking, {"stars": stars, "comment_given": bool(comment),
                                   "changed": changed})
    tell_merchant_of_rating(session, booking, {"stars": stars, "comment": comment,
                                                "changed": changed}, now)
