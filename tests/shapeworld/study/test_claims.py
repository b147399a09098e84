"""Verdicts: a claim holds only when every interval clears its threshold, fails when one lies beyond it."""

from __future__ import annotations

import pytest

from lightning_csr.shapeworld.study.claims import FAILS, HOLDS, UNDECIDED, Claim, Condition, verdict_lines
from lightning_csr.shapeworld.study.statistics import Interval


def condition(low, high, threshold=0.0, above=True):
    return Condition("x", Interval((low + high) / 2, low, high), threshold, above)


@pytest.mark.parametrize(
    ("low", "high", "above", "expected"),
    [
        (0.1, 0.3, True, HOLDS),
        (-0.3, -0.1, True, FAILS),
        (-0.1, 0.1, True, UNDECIDED),
        (-0.3, -0.1, False, HOLDS),
        (0.1, 0.3, False, FAILS),
        (-0.1, 0.1, False, UNDECIDED),
    ],
)
def test_condition_reads_the_interval_against_the_threshold(low, high, above, expected):
    assert condition(low, high, above=above).verdict() == expected


def test_threshold_is_not_zero_only():
    assert condition(0.55, 0.7, threshold=0.5).verdict() == HOLDS
    assert condition(0.45, 0.7, threshold=0.5).verdict() == UNDECIDED
    assert condition(0.3, 0.45, threshold=0.5).verdict() == FAILS


def test_claim_needs_every_condition_and_one_failure_decides():
    good, unsure, bad = condition(0.1, 0.2), condition(-0.1, 0.2), condition(-0.2, -0.1)
    assert Claim("a", (good, good)).verdict() == HOLDS
    assert Claim("a", (good, unsure)).verdict() == UNDECIDED
    assert Claim("a", (unsure, bad)).verdict() == FAILS
    assert Claim("a", ()).verdict() == UNDECIDED


def test_verdict_lines_give_the_reason_only_when_the_claim_does_not_hold():
    lines = verdict_lines(
        [Claim("wins", (condition(0.1, 0.2),), "r1"), Claim("loses", (condition(-0.2, -0.1),), "r2")]
    )
    assert lines[0].startswith("- **holds**: wins") and "r1" not in lines[0]
    assert lines[1].startswith("- **does not hold**: loses") and lines[1].endswith("Likeliest reason: r2")
