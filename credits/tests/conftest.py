from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection


@pytest.fixture
def in_threads():
    """Run fn(i) in n real threads that start together; each thread has its own DB connection."""

    def run(n: int, fn: Callable[[int], object]) -> list[object]:
        barrier = threading.Barrier(n)
        results: list[object] = [None] * n

        def worker(i: int) -> None:
            try:
                barrier.wait()
                results[i] = fn(i)
            except Exception as exc:  # noqa: BLE001 - surfaced to the test as a result
                results[i] = exc
            finally:
                connection.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        return results

    return run
