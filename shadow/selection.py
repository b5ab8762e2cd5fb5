"""Which samples an evaluation judges, and the key its result is cached under.

Pure functions: the same (dataset version, sample_size, seed, target_categories)
always selects the same samples, so a result can be reused and an A/B comparison
runs both rules on exactly the same ones.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from shadow.engine import CRS_VERSION

MAX_SEED = 2**63 - 1


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def config_hash(rule_config: Mapping[str, Any]) -> str:
    text = canonical(rule_config)
    if b'"crs":' in text:
        # A config naming the bundled CRS by reference means "this CRS version": a new
        # bundled version must not reuse evaluations (or compiled rules) of the old one.
        text += b"\x00crs=" + CRS_VERSION.encode()
    return hashlib.sha256(text).hexdigest()


def eligible_count(counts: Mapping[str, Mapping[str, int]], target_categories: Iterable[str]) -> int:
    """Benign samples always count; attacks only in the target categories (all if none)."""
    targets = set(target_categories)
    total = sum(counts.get("benign", {}).values())
    attacks = counts.get("attack", {})
    total += sum(n for category, n in attacks.items() if not targets or category in targets)
    return total


@dataclass(frozen=True)
class Selection:
    eligible: int
    sample_size: int | None  # as requested
    seed: int | None
    target_categories: tuple[str, ...]

    @classmethod
    def make(cls, *, eligible: int, sample_size: int | None, seed: int | None, target_categories: Iterable[str]) -> Selection:
        targets = tuple(sorted(set(target_categories)))
        if sample_size is not None and sample_size < eligible and seed is None:
            # A random subset is always reproducible: the seed drawn here is returned.
            seed = secrets.randbelow(MAX_SEED)
        return cls(eligible, sample_size, seed, targets)

    @property
    def is_subset(self) -> bool:
        return self.sample_size is not None and self.sample_size < self.eligible

    @property
    def size(self) -> int:
        return self.sample_size if self.is_subset else self.eligible

    def key(self) -> dict[str, Any]:
        # The seed matters only for a subset: every seed selects "all" the same way.
        return {
            "subset": [self.sample_size, self.seed] if self.is_subset else None,
            "target_categories": list(self.target_categories),
        }

    def chosen(self, eligible_positions: Iterable[int]) -> Iterator[int]:
        """The selected positions, ascending, from the eligible ones (ascending)."""
        if not self.is_subset:
            yield from eligible_positions
            return
        # Indexes into the eligible sequence: memory is the subset's size, never the dataset's.
        wanted = sorted(random.Random(self.seed).sample(range(self.eligible), self.size))
        pointer = 0
        for index, position in enumerate(eligible_positions):
            if pointer == len(wanted):
                return
            if index == wanted[pointer]:
                pointer += 1
                yield position


def cache_key(*, config_hash: str, dataset_id: int, dataset_version: int, selection: Selection) -> str:
    material = {"config": config_hash, "dataset": [dataset_id, dataset_version], "selection": selection.key()}
    return hashlib.sha256(canonical(material)).hexdigest()
