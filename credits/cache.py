"""Balance reads in three tiers: L1 in-process LRU → L2 Redis → L3 the account row.

Correctness rests on the account's ``audit_seq``, which grows with every balance change:
- After a write commits (never before), the writer publishes the new balance with its seq:
  it stores it in L2 only if newer than what L2 holds (a Lua compare-and-set), and sends
  it on a pub/sub channel that every process's L1 subscribes to. A late fill carrying an
  older seq can therefore never overwrite a newer value, in either tier.
- L1 is trusted only while this process's subscription is connected; it is emptied when
  the subscription drops, and each entry is trusted for at most ``L1_TTL`` seconds even if
  a message were lost. Staleness bound across processes: the pub/sub delivery time
  (well under a millisecond here). If a publish is lost altogether (a worker killed
  between its commit and its publish, or Redis unreachable at that moment), L2 keeps the
  older value until it expires: never more than ``L2_TTL + L1_TTL`` seconds.
- A cached balance whose earliest hold or grant expiry has passed is not served: the read goes to
  L3, which releases the expired holds and grants first.
Writes never consult this module: they decide on the locked row.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from prometheus_client import Counter
from redis.commands.core import Script

from shieldx import broadcast, resilience
from shieldx.breaker import CircuitOpen
from shieldx.lru import LRU

logger = logging.getLogger(__name__)

L1_TTL = 2.0
L1_SIZE = 50_000
# Short on purpose: it is the staleness bound when a publish is lost (see above). Active
# tenants are republished by every write; the rest are re-read from the row after it.
L2_TTL = 10
_L2_SET_IF_NEWER = """
local current = redis.call('GET', KEYS[1])
if current then
  local seq = tonumber(string.match(current, '^(%d+)|'))
  if seq and seq >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[3])
return 1
"""
# A write's publication, in ONE command sent by its SHA: every process's L1 through the
# channel, and L2 when newer (a pipeline of EVAL and PUBLISH cost twice the client CPU
# on the write path). ARGV[4] is the channel, ARGV[5] the message.
_L2_SET_AND_PUBLISH = "redis.call('PUBLISH', ARGV[4], ARGV[5])\n" + _L2_SET_IF_NEWER

lookups = Counter("credits_cache_lookups", "Balance cache lookups by tier and result.", ["tier", "result"])


@dataclass(frozen=True)
class Snapshot:
    """A balance as of one point in the account's history."""

    seq: int
    body: dict[str, Any]
    next_expiry: float | None  # epoch seconds: the soonest hold or grant expiry

    def is_due(self, now: float) -> bool:
        return self.next_expiry is not None and self.next_expiry <= now

    @classmethod
    def of(cls, account) -> Snapshot:
        """The account's balance with its live grants (``account.grant_list``)."""
        from credits.representations import balance

        moments = [m.timestamp() for m in (account.next_hold_expiry, account.next_grant_expiry) if m is not None]
        return cls(account.audit_seq, balance(account, account.grant_list), min(moments, default=None))

    def encode(self) -> str:
        return json.dumps({"b": self.body, "e": self.next_expiry}, separators=(",", ":"))

    @classmethod
    def decode(cls, seq: int, payload: str) -> Snapshot:
        data = json.loads(payload)
        return cls(seq, data["b"], data["e"])


class _L1:
    def __init__(self) -> None:
        self.entries: LRU[tuple[Snapshot, float]] = LRU(L1_SIZE)
        self.floor: LRU[int] = LRU(L1_SIZE)  # newest seq announced per tenant

    def get(self, tenant_id: str, *, fresh_only: bool = True) -> Snapshot | None:
        entry = self.entries.get(tenant_id)
        if entry is None:
            return None
        snapshot, stored_at = entry
        if fresh_only and time.monotonic() - stored_at > L1_TTL:
            return None
        return snapshot

    def offer(self, tenant_id: str, snapshot: Snapshot) -> None:
        """Keep the snapshot unless a newer one is already known."""
        floor = self.floor.get(tenant_id) or 0
        if snapshot.seq < floor:
            return
        current = self.entries.get(tenant_id)
        if current is not None and current[0].seq > snapshot.seq:
            return
        self.floor.put(tenant_id, snapshot.seq)
        self.entries.put(tenant_id, (snapshot, time.monotonic()))

    def clear(self) -> None:
        self.entries.clear()

    def reset(self) -> None:
        self.entries.clear()
        self.floor.clear()


class BalanceCache:
    def __init__(self) -> None:
        self.l1 = _L1()
        # Every process's L1 hears each committed write here; anything published while a
        # process was not listening is unknown, so (re)subscribing starts L1 empty.
        self._scripts: dict[str, Script] = {}
        self.changes = broadcast.Channel("credits:balance", on_message=self._apply, on_reset=self.l1.clear)

    def forget(self) -> None:
        """Drop this process's cached balances once every message already published has
        reached its listener. Tests need it: their database is rolled back, so a tenant's
        seq starts again at 1, and a late message would stand in L1 as the newer value."""
        self.changes.drain()
        self.l1.reset()

    # --- Redis access, always through the breaker ------------------------------------

    def _redis(self):
        from django_redis import get_redis_connection

        return get_redis_connection("default")

    def _script(self, text: str) -> Script:
        """A Lua script called by its SHA (loaded again when Redis has forgotten it)."""
        script = self._scripts.get(text)
        if script is None:
            script = self._scripts[text] = Script(None, text.encode())
        return script

    def _key(self, tenant_id: str) -> str:
        return f"{settings.CACHES['default'].get('KEY_PREFIX', 'shieldx')}:credits:balance:{tenant_id}"

    def _with_redis(self, fn):
        """Run fn(redis) behind the Redis breaker; None when Redis is not usable now."""
        if not settings.REDIS_URL:
            return None
        try:
            with resilience.cache.guard():
                return fn(self._redis())
        except CircuitOpen:
            return None
        except Exception as exc:  # noqa: BLE001 - a cache tier failing must never fail the read
            logger.warning("balance cache: redis unavailable (%s)", type(exc).__name__)
            return None

    # --- the channel keeps L1 coherent ---------------------------------------------------

    def _apply(self, text: str) -> None:
        tenant_id, seq, payload = text.split("|", 2)
        self.l1.offer(tenant_id, Snapshot.decode(int(seq), payload))

    def l1_usable(self) -> bool:
        # Without a channel to hear other processes' writes on, L1 is never trusted.
        return self.changes.connected()

    # --- reads and writes ------------------------------------------------------------------

    def read_cached(self, tenant_id: str, now: float) -> tuple[Snapshot | None, str]:
        """The freshest trustworthy cached snapshot and its tier, or (None, 'L3')."""
        if self.l1_usable():
            snapshot = self.l1.get(tenant_id)
            if snapshot is not None and not snapshot.is_due(now):
                lookups.labels(tier="l1", result="hit").inc()
                return snapshot, "L1"
            lookups.labels(tier="l1", result="miss").inc()
        raw = self._with_redis(lambda r: r.get(self._key(tenant_id)))
        if raw:
            seq, payload = raw.decode().split("|", 1)
            snapshot = Snapshot.decode(int(seq), payload)
            if not snapshot.is_due(now):
                lookups.labels(tier="l2", result="hit").inc()
                self.l1.offer(tenant_id, snapshot)
                return snapshot, "L2"
        lookups.labels(tier="l2", result="miss").inc()
        return None, "L3"

    def read_stale(self, tenant_id: str) -> tuple[Snapshot | None, str]:
        """Any cached value at all, for when the database is down."""
        snapshot = self.l1.get(tenant_id, fresh_only=False)
        if snapshot is not None:
            return snapshot, "L1"
        raw = self._with_redis(lambda r: r.get(self._key(tenant_id)))
        if raw:
            seq, payload = raw.decode().split("|", 1)
            return Snapshot.decode(int(seq), payload), "L2"
        return None, "L3"

    def store(self, tenant_id: str, snapshot: Snapshot) -> None:
        """Fill after an L3 read: both tiers, each only if newer."""
        lookups.labels(tier="l3", result="read").inc()
        self.l1.offer(tenant_id, snapshot)
        self._with_redis(lambda r: self._script(_L2_SET_IF_NEWER)(keys=[self._key(tenant_id)], args=[snapshot.seq, snapshot.encode(), L2_TTL], client=r))

    def publish(self, tenant_id: str, snapshot: Snapshot) -> None:
        """After a write commits: this process's L1 at once, L2 and every other L1 through Redis."""
        self.l1.offer(tenant_id, snapshot)

        def send(r):
            payload = snapshot.encode()
            message = f"{tenant_id}|{snapshot.seq}|{payload}"
            return self._script(_L2_SET_AND_PUBLISH)(keys=[self._key(tenant_id)], args=[snapshot.seq, payload, L2_TTL, self.changes.name, message], client=r)

        if self._with_redis(send) is None and settings.REDIS_URL:
            # L2 may now hold an older value: drop it as soon as Redis answers again.
            self._with_redis(lambda r: r.delete(self._key(tenant_id)))


balances = BalanceCache()
