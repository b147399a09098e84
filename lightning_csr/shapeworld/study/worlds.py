"""A study's worlds: world k is built by `prepare` with its scene, model and co-occurrence seeds all `seed`."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def world_dir(out: Path, seed: int) -> Path:
    """Where a world's prepared data lives (the same as `prepare --out <out>/worlds/<seed>/data`)."""
    return out / "worlds" / str(seed) / "data"


def build_world(data: Path, seed: int, scale: str, eval_scenes: int) -> dict[str, Any]:
    """Prepare (or finish preparing) one world; returns its priors, its usability and its base metrics."""
    from lightning_csr.evaluation.progress import NullProgress
    from lightning_csr.shapeworld.build.cores import auto_threads
    from lightning_csr.shapeworld.build.prepare import prepare
    from lightning_csr.shapeworld.build.settings import SCALES
    from lightning_csr.shapeworld.world.priors import drawn_world

    settings = SCALES[scale]().with_model_seed(seed)
    settings.seed = seed
    settings.n_test_scenes = max(settings.n_test_scenes, eval_scenes)
    world = drawn_world(seed)
    result = prepare(data, settings, world, NullProgress(), auto_threads())
    return {
        "seed": seed,
        "co_occurrence": world.co_occurrence,
        "usability": result["usability"],
        "base": result["stamps"]["evaluate_base"]["info"]["metrics"],
    }
