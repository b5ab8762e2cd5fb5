"""shieldx.broadcast: a channel's messages reach every listener, and drain() waits for them."""

from __future__ import annotations

import threading

from shieldx.broadcast import Channel


def test_drain_returns_once_every_message_published_before_it_was_handled():
    handled: list[str] = []
    slow = threading.Event()

    def on_message(text: str) -> None:
        slow.wait(0.05)  # a listener that is behind: drain must wait for it, not race it
        handled.append(text)

    channel = Channel("test-drain", on_message=on_message, on_reset=lambda: None)
    assert channel.wait_connected(5)
    sent = [f"news-{i}" for i in range(5)]
    for text in sent:
        assert channel.publish(text)

    assert channel.drain(timeout=5)
    assert handled == sent  # markers themselves are never handed to on_message
