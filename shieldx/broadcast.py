"""A Redis pub/sub channel that tells every process when something it caches changed.

Each process keeps one listener thread per channel. ``connected()`` is true only while
the subscription is up: a process that cannot hear invalidations must not trust what it
cached (anything published while it was deaf is unknown), so ``on_reset`` runs each time
the subscription is (re)established or lost. Without Redis there is no channel and
``connected()`` is always false.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from django.conf import settings

from shieldx import resilience
from shieldx.breaker import CircuitOpen

logger = logging.getLogger(__name__)

# A message that is not news but a marker: its arrival at the listener proves every
# message published before it was handled (pub/sub keeps one publisher's order).
_MARKER = "\x00marker:"


class Channel:
    def __init__(self, topic: str, *, on_message: Callable[[str], None], on_reset: Callable[[], None]):
        self.topic = topic
        self.on_message = on_message
        self.on_reset = on_reset
        self._subscribed = threading.Event()
        self._listener: threading.Thread | None = None
        self._lock = threading.Lock()
        self._markers: dict[str, threading.Event] = {}

    @property
    def name(self) -> str:
        # Pub/sub ignores Redis database numbers: name the database (and the cache
        # prefix) in the channel so two deployments sharing one server never hear each other.
        from redis.connection import parse_url

        db = parse_url(settings.REDIS_URL).get("db", 0)
        return f"{settings.CACHES['default'].get('KEY_PREFIX', 'shieldx')}:{db}:{self.topic}"

    def connected(self) -> bool:
        if not settings.REDIS_URL:
            return False
        if self._listener is None or not self._listener.is_alive():
            with self._lock:
                if self._listener is None or not self._listener.is_alive():
                    self._listener = threading.Thread(target=self._listen, name=f"broadcast-{self.topic}", daemon=True)
                    self._listener.start()
        return self._subscribed.is_set()

    def wait_connected(self, timeout: float) -> bool:
        self.connected()
        return self._subscribed.wait(timeout)

    def _listen(self) -> None:
        import redis

        backoff = 0.1
        while True:
            try:
                client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=None, health_check_interval=5)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.name)
                self.on_reset()
                self._subscribed.set()
                backoff = 0.1
                for message in pubsub.listen():
                    data = message.get("data")
                    if not data:
                        continue
                    text = data.decode() if isinstance(data, bytes) else data
                    if text.startswith(_MARKER):
                        arrived = self._markers.get(text)
                        if arrived is not None:
                            arrived.set()
                        continue
                    self.on_message(text)
            except Exception as exc:  # noqa: BLE001 - reconnect on any failure
                self._subscribed.clear()
                self.on_reset()
                logger.warning("broadcast %s: subscription lost (%s); caches bypassed until it is back", self.topic, type(exc).__name__)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def publish(self, message: str) -> bool:
        """Tell every process (this one's listener included); False when Redis is not usable now."""
        if not settings.REDIS_URL:
            return False
        try:
            from django_redis import get_redis_connection

            with resilience.cache.guard():
                get_redis_connection("default").publish(self.name, message)
            return True
        except CircuitOpen:
            return False
        except Exception as exc:  # noqa: BLE001 - a lost message is bounded by the caches' own lifetimes
            logger.warning("broadcast %s: publish failed (%s)", self.topic, type(exc).__name__)
            return False

    def drain(self, timeout: float = 2.0) -> bool:
        """Wait until this process's listener has handled everything published so far
        (``credits.cache.BalanceCache.forget`` says why tests need it)."""
        if not self.wait_connected(timeout):
            return False
        marker = f"{_MARKER}{uuid.uuid4().hex}"
        arrived = self._markers[marker] = threading.Event()
        try:
            return self.publish(marker) and arrived.wait(timeout)
        finally:
            self._markers.pop(marker, None)
