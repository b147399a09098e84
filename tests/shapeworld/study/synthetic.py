"""Synthetic study results with chosen CHAIR_S and recall per world: the claims' verdicts must follow them."""

from __future__ import annotations

from typing import Any

SCENES = 200


def evaluation(chair_s: float, recall: float, words: int = 20) -> dict[str, Any]:
    """Per-scene counts (COLUMNS of statistics.py) with exactly this CHAIR_S and recall over 200 scenes,
    two present objects each; the hallucinating scenes are the first ones."""
    hallucinating, covered = round(chair_s * SCENES), round(recall * 2 * SCENES)
    rows = []
    for i in range(SCENES):
        cover = min(2, max(0, covered - 2 * i))
        rows.append(
            [
                float(i < hallucinating),
                float(i < hallucinating),
                cover + float(i < hallucinating),
                cover,
                2,
                words,
            ]
        )
    return {"metrics": {"chair_s": chair_s, "recall": recall}, "scenes": rows}


def pairs(right: float, count: int = 100) -> list[list[int]]:
    """Pair truth rows (less, more, right, wrong) with the given share of right pairs, the rest wrong."""
    return [
        [int(i < right * count), int(i >= right * count), int(i < right * count), int(i >= right * count)]
        for i in range(count)
    ]


def method(chairs: list[float], recall: float = 0.8, right: float = 0.6) -> dict[str, Any]:
    """A CSR-like method whose CHAIR_S is `chairs[k]` after iteration k (0 = the base)."""
    iterations = [evaluation(c, recall) for c in chairs]
    return {**iterations[-1], "iterations": iterations, "pairs": [pairs(right) for _ in chairs[1:]]}


def results(per_world: list[dict[str, Any]], fact_rlhf: bool = False) -> dict[str, Any]:
    """A study's results: `per_world[w]` maps method -> evaluation dict (the same under both budgets)."""
    methods = sorted(m for m in per_world[0] if m not in ("base", "fact_rlhf"))
    worlds = []
    for seed, world in enumerate(per_world):
        entry = {"seed": seed, "base": world["base"], "equal": world, "best": world}
        if fact_rlhf:
            entry["fact_rlhf"] = world["fact_rlhf"]
        worlds.append(entry)
    settings = {
        "methods": methods,
        "bootstrap_samples": 400,
        "fact_rlhf": fact_rlhf,
        "world_seeds": list(range(len(worlds))),
    }
    return {"settings": settings, "worlds": worlds}
