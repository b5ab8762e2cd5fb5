"""What every compiled rule returns, whatever its type."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .sample import NormalizedSample


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one rule on one sample.

    ``fired`` names what made the rule match: SecRule ids for ``modsecurity``, the
    matched patterns for ``signature``, the matching targets for ``regex`` and
    ``"<index>"`` / ``"<index>:<child item>"`` for ``composite``.  Comparing two
    rules' ``fired`` sets shows which detections newly fire or stop firing.
    ``score`` is the inbound anomaly score for ``modsecurity`` (0 otherwise).
    """

    matched: bool
    fired: tuple[str, ...] = ()
    score: int = 0


NO_MATCH = Verdict(False)


class CompiledRule(ABC):
    """A rule_config turned into something that can judge samples quickly."""

    rule_type: str = ""

    @abstractmethod
    def match(self, sample: NormalizedSample) -> Verdict:
        """Judge one normalised sample."""

    def match_dict(self, sample: Mapping[str, Any]) -> Verdict:
        """Convenience for one-off checks: normalise, then :meth:`match`."""
        return self.match(NormalizedSample(sample))
