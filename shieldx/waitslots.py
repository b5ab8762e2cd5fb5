"""How many web workers of one server may sit waiting on long work at once.

A sync gunicorn worker that waits (``POST /shadow/evaluate`` with ``wait_seconds``)
serves nobody else meanwhile: three waiting clients held all three workers of a pod and
another tenant's balance read waited 14 s. A waiter first takes one of a few slots —
an exclusive ``flock`` on a file per slot in a directory shared by the workers of one
gunicorn master — and a request that finds every slot taken does not wait at all (the
view answers 202 with ``Location``). The kernel drops a dead worker's lock, so a worker
killed mid-wait (``kill -9``, the hung-worker timeout) never leaks its slot.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _directory() -> Path:
    # Workers are children of their gunicorn master: its pid names the pool. Outside
    # gunicorn (tests, runserver) the process's parent plays that part, which is fine.
    path = Path(os.environ.get("SHIELDX_WAIT_SLOT_DIR") or tempfile.gettempdir()) / f"shieldx-wait-{os.getppid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


@contextmanager
def wait_slot(slots: int) -> Iterator[bool]:
    """True while this request holds a slot and may wait; False when all are taken."""
    if slots <= 0:
        yield False
        return
    directory = _directory()
    for index in range(slots):
        fd = os.open(directory / f"slot-{index}", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield True
        finally:
            os.close(fd)  # closing the last descriptor of the file releases the lock
        return
    yield False
