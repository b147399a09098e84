"""A claim is a set of inequalities on study statistics; its verdict reads their confidence intervals.

A condition holds when its whole interval lies on the claimed side of the threshold, fails when its whole
interval lies on the other side, and is undecided otherwise. A claim holds when every condition holds, does
not hold when any condition fails, and is not separable at this number of worlds otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lightning_csr.shapeworld.study.statistics import Interval

HOLDS, FAILS, UNDECIDED = "holds", "does not hold", "not separable at this N"


@dataclass(frozen=True)
class Condition:
    """`statistic > threshold` (`above=True`) or `statistic < threshold`, with the statistic's interval."""

    name: str
    interval: Interval
    threshold: float
    above: bool = True

    def verdict(self) -> str:
        low, high = self.interval.low, self.interval.high
        if self.above:
            return HOLDS if low > self.threshold else FAILS if high < self.threshold else UNDECIDED
        return HOLDS if high < self.threshold else FAILS if low > self.threshold else UNDECIDED

    def describe(self) -> str:
        side = ">" if self.above else "<"
        i = self.interval
        return f"{self.name} {side} {self.threshold:g}: {i.mean:.3f} [{i.low:.3f}, {i.high:.3f}]"


@dataclass(frozen=True)
class Claim:
    """A seed paper's claim, checked on ShapeWorld."""

    text: str
    conditions: tuple[Condition, ...]
    reason_if_not: str = ""

    def verdict(self) -> str:
        verdicts = [c.verdict() for c in self.conditions]
        if verdicts and all(v == HOLDS for v in verdicts):
            return HOLDS
        return FAILS if FAILS in verdicts else UNDECIDED


def verdict_lines(claims: Sequence[Claim]) -> list[str]:
    """One Markdown line per claim: its verdict, its conditions, and the likeliest reason when it does not hold."""
    lines = []
    for claim in claims:
        verdict = claim.verdict()
        detail = "; ".join(c.describe() for c in claim.conditions)
        reason = (
            f" Likeliest reason: {claim.reason_if_not}" if verdict != HOLDS and claim.reason_if_not else ""
        )
        lines.append(f"- **{verdict}**: {claim.text} ({detail}).{reason}")
    return lines
