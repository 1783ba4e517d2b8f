"""The tables of customer ratings: the rating links sent after a booking, and the ratings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.models import Base


class RatingToken(Base):
    """A rating link: only the SHA-256 of its random token is kept (as for manage links)."""

    __tablename__ = "rating_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class BookingRating(Base):
    """The customer's rating of a booking: one per booking, changeable for a while."""

    __tablename__ = "booking_ratings"

    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    stars: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime]  # first given: it may be changed until a while after this
    changed_at: Mapped[datetime]
