"""The per-tenant audit hash chain of CONTRACT §3, as plain functions anyone can rerun.

hash = sha256(canonical(entry without "hash")), prev_hash of seq 1 is 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    valid: bool
    length: int
    head_hash: str
    broken_at_seq: int | None


def verify(entries: Iterable[Mapping[str, Any]]) -> ChainReport:
    """Walk entries in seq order; the first entry whose link or hash is wrong breaks the chain."""
    expected_prev, expected_seq, length = GENESIS, 1, 0
    for entry in entries:
        if entry.get("seq") != expected_seq or entry.get("prev_hash") != expected_prev or entry.get("hash") != entry_hash(entry):
            return ChainReport(False, length, expected_prev, entry.get("seq", expected_seq))
        expected_prev, expected_seq, length = entry["hash"], expected_seq + 1, length + 1
    return ChainReport(True, length, expected_prev, None)
