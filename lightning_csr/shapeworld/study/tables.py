"""Study results as bootstrap tables: per-scene counts per world, per-pair truth, reward-model wins."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lightning_csr.shapeworld.study.pair_truth import PAIR_COLUMNS
from lightning_csr.shapeworld.study.statistics import (
    Interval,
    Metrics,
    WorldBootstrap,
    interval,
    point_metrics,
)

# shares of 0/1 columns (the count of rows is appended as the last column by the bootstrap's sums)
PAIR_METRICS: Metrics = {
    name: (lambda s, i=i: s[..., i] / np.maximum(s[..., len(PAIR_COLUMNS)], 1))
    for i, name in enumerate(PAIR_COLUMNS)
}
WIN_METRICS: Metrics = {"accuracy": lambda s: s[..., 0] / np.maximum(s[..., 1], 1)}


def scene_tables(
    results: dict[str, Any], pick: Callable[[dict[str, Any]], dict[str, Any]]
) -> list[np.ndarray]:
    """One [scenes, 6] count table per world of the evaluation `pick(world)` selects."""
    return [np.asarray(pick(world)["scenes"], dtype=float) for world in results["worlds"]]


class Estimator:
    """Intervals of a study's statistics, sharing one bootstrap's draws over worlds and scenes."""

    def __init__(self, results: dict[str, Any], samples: int, seed: int = 0) -> None:
        self.results, self.samples, self.seed = results, samples, seed
        counts = [len(world["base"]["scenes"]) for world in results["worlds"]]
        self.scenes = WorldBootstrap(counts, samples, seed)

    def metric(self, pick: Callable[[dict[str, Any]], dict[str, Any]], name: str) -> Interval:
        """A metric of one evaluation, averaged over worlds."""
        return self.scenes.metric(scene_tables(self.results, pick), name)

    def mean(self, pick: Callable[[dict[str, Any]], dict[str, Any]], name: str) -> float:
        """A metric of one evaluation, averaged over worlds (the estimate only)."""
        return point_metrics(scene_tables(self.results, pick))[name]

    def combined(
        self,
        picks: Sequence[Callable[[dict[str, Any]], dict[str, Any]]],
        combine: Callable[[list[dict]], Any],
    ) -> Interval:
        """A statistic of several evaluations of the same scenes (paired draws), e.g. a difference."""
        tables = [scene_tables(self.results, pick) for pick in picks]
        return interval(*self.scenes.statistic(tables, combine))

    def rows(
        self, tables: Sequence[Sequence[np.ndarray]], combine: Callable[[list[dict]], Any], metrics: Metrics
    ) -> Interval:
        """A statistic of per-item 0/1 tables (pairs), resampling worlds and items; paired when the
        tables share items."""
        bootstrap = WorldBootstrap([len(t) for t in tables[0]], self.samples, self.seed)
        return interval(*bootstrap.statistic(tables, combine, metrics))

    def share(self, tables: Sequence[np.ndarray], name: str, metrics: Metrics = PAIR_METRICS) -> Interval:
        """One share (a PAIR_METRICS or WIN_METRICS column) over worlds and items."""
        return self.rows([tables], lambda values: values[0][name], metrics)

    def share_mean(self, tables: Sequence[np.ndarray], name: str, metrics: Metrics = PAIR_METRICS) -> float:
        """One share over worlds and items (the estimate only)."""
        return point_metrics(tables, metrics)[name]
