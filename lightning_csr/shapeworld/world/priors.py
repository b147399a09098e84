"""Co-occurrence priors drawn by seed, so that a claim can be checked on worlds whose priors nobody chose."""

from __future__ import annotations

import random

from lightning_csr.shapeworld.world.settings import SHAPES, WorldSettings


def draw_co_occurrence(
    seed: int, n_pairs: int = 6, probability: float = 0.5, shapes: tuple[str, ...] = SHAPES
) -> dict[str, dict[str, float]]:
    """`n_pairs` priors "shape brings partner with `probability`": distinct shapes bring, distinct partners are
    brought, no shape brings itself; a function of the arguments only."""
    if not 1 <= n_pairs <= len(shapes) - 1:
        raise ValueError(
            f"n_pairs: must be in [1, {len(shapes) - 1}] for {len(shapes)} shapes, got {n_pairs}"
        )
    rng = random.Random(f"co-occurrence/{seed}")
    while True:
        sources = rng.sample(shapes, n_pairs)
        partners = rng.sample(shapes, n_pairs)
        if all(source != partner for source, partner in zip(sources, partners, strict=True)):
            return {source: {partner: probability} for source, partner in zip(sources, partners, strict=True)}


def drawn_world(seed: int, n_pairs: int = 6, probability: float = 0.5, **fields) -> WorldSettings:
    """The default world with its co-occurrence priors drawn by `seed` (other fields as given)."""
    return WorldSettings(co_occurrence=draw_co_occurrence(seed, n_pairs, probability), **fields)
