"""Study statistics: ratio-of-sums metrics per world, averaged over worlds; paired bootstrap draws."""

from __future__ import annotations

import numpy as np
import pytest

from lightning_csr.shapeworld.study.statistics import WorldBootstrap, interval, scene_counts


def rows(hallucinations: list[int]) -> list[dict]:
    """Scenes with objects a, b present; `h` hallucinated objects named beside a."""
    out = []
    for h in hallucinations:
        extra = [f"x{i}" for i in range(h)]
        out.append(
            {"truth": ["a", "b"], "mentioned": ["a", *extra], "hallucinated": extra, "description": "w w"}
        )
    return out


def test_scene_counts_and_hand_computed_metrics():
    table = scene_counts(rows([0, 2, 1, 0]))
    boot = WorldBootstrap([4], samples=200)
    assert boot.metric([table], "chair_s").mean == pytest.approx(0.5)  # 2 of 4 descriptions
    assert boot.metric([table], "chair_i").mean == pytest.approx(3 / 7)  # 3 of 7 mentions
    assert boot.metric([table], "recall").mean == pytest.approx(0.5)  # a of {a, b}
    assert boot.metric([table], "mean_words").mean == pytest.approx(2.0)


def test_worlds_weigh_equally_whatever_their_scene_counts():
    clean, noisy = scene_counts(rows([0] * 10)), scene_counts(rows([1] * 2))
    boot = WorldBootstrap([10, 2], samples=200)
    assert boot.metric([clean, noisy], "chair_s").mean == pytest.approx(0.5)


def test_paired_difference_of_identical_methods_is_exactly_zero():
    table = scene_counts(rows(list(np.random.default_rng(0).integers(0, 3, 50))))
    boot = WorldBootstrap([50, 50], samples=300)
    point, draws = boot.statistic(
        [[table, table], [table, table]], lambda m: m[0]["chair_s"] - m[1]["chair_s"]
    )
    assert point == 0 and np.all(draws == 0)


def test_interval_covers_the_truth_and_narrows_with_more_scenes():
    generator = np.random.default_rng(1)
    widths = []
    for n in (40, 400):
        tables = [scene_counts(rows(list(generator.binomial(1, 0.3, n)))) for _ in range(3)]
        found = WorldBootstrap([n] * 3, samples=1000).metric(tables, "chair_s")
        assert found.low < 0.3 < found.high
        widths.append(found.high - found.low)
    assert widths[1] < widths[0] / 2


def test_interval_percentiles():
    found = interval(0.5, np.linspace(0, 1, 1001))
    assert (found.low, found.high) == pytest.approx((0.025, 0.975))
