"""Which grants pay (CONTRACT §3a): the drawing order and the arithmetic of drawing,
holding, expiring and refunding. Pure: no Django, no database. The services load a
tenant's live grants under the account lock, let these functions decide, and the ledger
writes the grants they changed.

Order: lower ``priority`` first, then the soonest ``expires_at`` (none last), then
promotional before paid, then the oldest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

PAID = "paid"
PROMOTIONAL = "promotional"
# A grant made in this transaction has no row id yet; it is the newest of its moment.
_NEWEST = 2**62


@dataclass(slots=True)
class Grant:
    grant_id: str
    category: str
    priority: int
    amount: int
    remaining: int
    held: int
    expires_at: datetime | None
    created_at: datetime
    row_id: int = _NEWEST
    description: str = ""
    # What the ledger must write: a new row, or new figures for an existing one.
    new: bool = False
    changed: bool = False

    @property
    def unheld(self) -> int:
        return self.remaining - self.held

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def add(self, *, remaining: int = 0, held: int = 0) -> None:
        self.remaining += remaining
        self.held += held
        self.changed = True


Part = tuple[str, int]  # (grant_id, amount)


class GrantsOutOfStep(RuntimeError):
    """The grants cannot cover what the account's figures allow: a bug, never a client error."""


def drawing_key(grant: Grant) -> tuple:
    no_expiry = grant.expires_at is None
    return (grant.priority, no_expiry, grant.expires_at.timestamp() if grant.expires_at else 0.0,
            grant.category != PROMOTIONAL, grant.created_at.timestamp(), grant.row_id)  # fmt: skip


def in_drawing_order(grants: Iterable[Grant]) -> list[Grant]:
    return sorted(grants, key=drawing_key)


def _allocate(grants: list[Grant], amount: int, now: datetime) -> list[tuple[Grant, int]]:
    parts, left = [], amount
    for grant in in_drawing_order(grants):
        if left == 0:
            break
        if grant.expired(now) or grant.unheld <= 0:
            continue
        take = min(left, grant.unheld)
        parts.append((grant, take))
        left -= take
    if left:
        raise GrantsOutOfStep(f"live grants cover {amount - left} of {amount}")
    return parts


def draw(grants: list[Grant], amount: int, now: datetime) -> list[Part]:
    """Spend ``amount`` from the unheld remainders, in drawing order."""
    parts = _allocate(grants, amount, now)
    for grant, take in parts:
        grant.add(remaining=-take)
    return [(grant.grant_id, take) for grant, take in parts]


def hold(grants: list[Grant], amount: int, now: datetime) -> list[Part]:
    """Set ``amount`` aside for a hold, in drawing order."""
    parts = _allocate(grants, amount, now)
    for grant, take in parts:
        grant.add(held=take)
    return [(grant.grant_id, take) for grant, take in parts]


def settle_hold(grants: list[Grant], held: Iterable[Part], captured: int) -> list[Part]:
    """End a hold: the first ``captured`` credits of it (in the order it was taken) are
    spent, the rest goes back to its grants. Returns what was spent, per grant."""
    by_id = {grant.grant_id: grant for grant in grants}
    spent, left = [], captured
    for grant_id, amount in held:
        grant = by_id.get(grant_id)
        if grant is None:
            raise GrantsOutOfStep(f"a hold names grant {grant_id}, which is not live")
        take = min(left, amount)
        grant.add(remaining=-take, held=-amount)
        left -= take
        if take:
            spent.append((grant_id, take))
    if left:
        raise GrantsOutOfStep("a capture exceeds what its hold holds")
    return spent


def expire_due(grants: list[Grant], now: datetime) -> list[Part]:
    """What leaves the balance now: each expired grant's unspent, unheld remainder."""
    gone = []
    for grant in in_drawing_order(grants):
        if grant.expired(now) and grant.unheld > 0:
            gone.append((grant.grant_id, grant.unheld))
            grant.add(remaining=-grant.unheld)
    return gone


def next_expiry(grants: Iterable[Grant]) -> datetime | None:
    """When some unheld remainder next expires (a held part expires when its hold ends)."""
    return min((g.expires_at for g in grants if g.expires_at is not None and g.unheld > 0), default=None)


def refund_sources(drawn: Iterable[Part], already_refunded: int, amount: int) -> list[Part]:
    """Which of a consume's grants a refund of ``amount`` undoes, after ``already_refunded``
    was refunded before: refunds unwind the draw from its last part backwards, so the
    credits drawn last (the ones that would have been kept longest) come back first."""
    parts, skip, left = [], already_refunded, amount
    for grant_id, taken in reversed(list(drawn)):
        if skip >= taken:
            skip -= taken
            continue
        available, skip = taken - skip, 0
        give = min(left, available)
        if give:
            parts.append((grant_id, give))
            left -= give
        if left == 0:
            break
    if left:
        parts.append(("", left))  # drawn before grants existed: no grant to return to
    return parts


def totals(grants: Iterable[Grant]) -> tuple[int, int]:
    """(Σ remaining, Σ held): the account's balance and reserved funds, always."""
    remaining = held = 0
    for grant in grants:
        remaining += grant.remaining
        held += grant.held
    return remaining, held
