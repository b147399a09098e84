"""Per-scene counts, the metrics built from them, and a bootstrap over worlds and scenes.

A study's unit of evidence is one scene of one world: what the description named, hallucinated and missed.
Metrics are ratios of sums over scenes (CHAIR_I and recall are not means of per-scene ratios), computed per
world and averaged over worlds, each world weighted equally. The bootstrap resamples worlds, then scenes within
each drawn world; paired statistics (one method against another on the same scenes) reuse the same draws.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# per-scene columns: any hallucination, hallucinated mentions, mentions, covered objects, present objects, words
COLUMNS = ("hallucinated_any", "hallucinated", "mentioned", "covered", "present", "words")


Metrics = Mapping[str, Callable[[np.ndarray], np.ndarray]]
# description metrics from sums over scenes (last axis: COLUMNS, then the scene count)
METRICS: Metrics = {
    "chair_s": lambda s: s[..., 0] / np.maximum(s[..., 6], 1),
    "chair_i": lambda s: s[..., 1] / np.maximum(s[..., 2], 1),
    "recall": lambda s: s[..., 3] / np.maximum(s[..., 4], 1),
    "mean_words": lambda s: s[..., 5] / np.maximum(s[..., 6], 1),
}


@dataclass(frozen=True)
class Interval:
    """A point estimate and its two-sided confidence interval."""

    mean: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "low": self.low, "high": self.high}


def scene_counts(rows: Sequence[Mapping[str, object]]) -> np.ndarray:
    """[scenes, 6] counts from per-scene evaluation rows (`truth`, `mentioned`, `hallucinated`, `description`)."""
    table = np.zeros((len(rows), len(COLUMNS)))
    for i, row in enumerate(rows):
        truth, mentioned = set(row["truth"]), set(row["mentioned"])
        hallucinated = set(row["hallucinated"])
        table[i] = (
            bool(hallucinated),
            len(hallucinated),
            len(mentioned),
            len(truth & mentioned),
            len(truth),
            len(str(row.get("description", "")).split()),
        )
    return table


def _sums(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Column sums and the scene count over the rows `index` ([..., scenes] -> [..., 7])."""
    picked = table[index]
    return np.concatenate([picked.sum(axis=-2), np.full((*picked.shape[:-2], 1), picked.shape[-2])], axis=-1)


class WorldBootstrap:
    """Bootstrap draws over worlds and scenes, shared by every statistic computed from one study.

    Args:
        scenes_per_world: the number of evaluated scenes of each world (the same scenes for every method).
        samples: bootstrap draws.
        seed: the draws' generator seed.
    """

    def __init__(self, scenes_per_world: Sequence[int], samples: int = 2000, seed: int = 0) -> None:
        generator = np.random.default_rng(seed)
        worlds = len(scenes_per_world)
        self.world_draws = generator.integers(0, worlds, size=(samples, worlds))
        self.scene_draws = [generator.integers(0, n, size=(samples, n)) for n in scenes_per_world]
        self.samples = samples

    def metric(self, tables: Sequence[np.ndarray], name: str, metrics: Metrics = METRICS) -> Interval:
        """One method's metric, averaged over worlds, with its interval."""
        return interval(*self.statistic([tables], lambda values: values[0][name], metrics))

    def statistic(
        self,
        methods: Sequence[Sequence[np.ndarray]],
        combine: Callable[[list[dict]], np.ndarray | float],
        metrics: Metrics = METRICS,
    ) -> tuple[float, np.ndarray]:
        """A statistic of several methods' world-averaged metrics, with paired draws.

        `methods[m][w]` is method m's item table in world w (the same items for every method); `combine`
        receives, per method, a dict of metric name -> world-averaged value (floats for the estimate, arrays
        over the draws for the bootstrap) and returns the statistic.
        """
        point, draws = [], []
        for tables in methods:
            point.append(point_metrics(tables, metrics))
            per_world = np.stack([_sums(t, self.scene_draws[w]) for w, t in enumerate(tables)], axis=1)
            chosen = np.take_along_axis(
                per_world, self.world_draws[:, :, None], axis=1
            )  # [samples, worlds, c]
            draws.append({name: f(chosen).mean(axis=1) for name, f in metrics.items()})
        return float(combine(point)), np.asarray(combine(draws), dtype=float)


def point_metrics(tables: Sequence[np.ndarray], metrics: Metrics = METRICS) -> dict[str, float]:
    """Each metric over all items of each world, averaged over worlds: the estimate, without a bootstrap."""
    full = np.stack([_sums(t, np.arange(len(t))) for t in tables])  # [worlds, columns + 1]
    return {name: float(f(full).mean()) for name, f in metrics.items()}


def interval(point: float, draws: np.ndarray, level: float = 0.95) -> Interval:
    """Percentile interval of bootstrap draws around a point estimate."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Interval(point, float(low), float(high))
