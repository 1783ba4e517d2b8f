"""Connect links: the secret that lets one staff member connect their own calendar.

Like a manage link (syncd/manage/tokens.py): 256 random bits, of which only a
SHA-256 is stored. A link names one staff member and works until it expires or
is revoked. A wrong, expired, revoked, malformed or tampered token are all
"no link": the pages answer each with the same 404.

A connection made in several steps keeps what it has gathered so far (the
password typed, Microsoft's sign-in state, the calendars found) in `draft`,
sealed by the caller, beside the link it belongs to; it is dropped when the
connection is made, when the link stops working, or when it is older than the
caller allows.

Here in the store (not in syncd.connect) because every layer that tells a
staff member to reconnect needs to issue a link: the API, and the worker when
an account's password stops working.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from syncd.config.manage import ManageSettings
from syncd.store.models import Base, Staff

TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32)


class ConnectToken(Base):
    """A connect link: only the SHA-256 of its random token is kept."""

    __tablename__ = "connect_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    draft: Mapped[str | None] = mapped_column(Text)  # sealed by the caller
    draft_at: Mapped[datetime | None]
    # the SHA-256 of the state of a sign-in in progress at Microsoft: its answer comes back
    # to one address for every link, and names the link by this state alone
    sign_in_state: Mapped[str | None] = mapped_column(String(64), unique=True)

    staff: Mapped[Staff] = relationship()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _digest(token: object) -> str | None:
    if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
        return None
    return token_hash(token)


def issue_connect_token(
    session: Session, staff: Staff, now: datetime, days: float
) -> tuple[str, ConnectToken]:
    """A new raw token for a link to connect `staff`'s calendar, working `days` from `now`."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = ConnectToken(staff_id=staff.id, token_hash=token_hash(token), created_at=now,
                       expires_at=now + timedelta(days=days))
    session.add(row)
    session.flush()
    return token, row


def find_connect_token(
    session: Session, token: str, now: datetime, *, lock: bool = False
) -> ConnectToken | None:
    """The working link `token` opens (its staff member loaded with it), or None."""
    digest = _digest(token)
    if digest is None:
        return None
    query = (select(ConnectToken).where(ConnectToken.token_hash == digest)
             .options(joinedload(ConnectToken.staff)))
    if lock:
        query = query.with_for_update(of=ConnectToken)
    row = session.scalars(query).unique().one_or_none()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row if link_works(row, now) else None


def link_works(row: ConnectToken, now: datetime) -> bool:
    return row.revoked_at is None and now < row.expires_at


def revoke_connect_tokens(session: Session, staff: Staff, now: datetime) -> int:
    """Every link of the staff member stops working (and forgets its draft); how many did."""
    result = session.execute(
        update(ConnectToken)
        .where(ConnectToken.staff_id == staff.id, ConnectToken.revoked_at.is_(None))
        .values(revoked_at=now, draft=None, draft_at=None, sign_in_state=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def connect_link(manage: ManageSettings, token: str) -> str | None:
    """The page's address for `token`, beside the manage pages; None without a public URL."""
    if manage.public_url is None:
        return None
    return f"{str(manage.public_url).rstrip('/')}/connect/{token}"


def find_by_sign_in_state(session: Session, state: str, now: datetime) -> ConnectToken | None:
    """The working link whose sign-in at Microsoft `state` belongs to, or None."""
    if not state or len(state) > 256:
        return None
    digest = hashlib.sha256(state.encode()).hexdigest()
    query = (select(ConnectToken).where(ConnectToken.sign_in_state == digest)
             .options(joinedload(ConnectToken.staff)).with_for_update(of=ConnectToken))
    row = session.scalars(query).unique().one_or_none()
    return row if row is not None and link_works(row, now) else None


def sign_in_state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()
