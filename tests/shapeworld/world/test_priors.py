"""Drawn co-occurrence priors: valid, reproducible, different between seeds."""

from __future__ import annotations

import pytest

from lightning_csr.shapeworld.world.priors import draw_co_occurrence, drawn_world
from lightning_csr.shapeworld.world.settings import DEFAULT_CO_OCCURRENCE


@pytest.mark.parametrize("seed", range(20))
def test_drawn_priors_are_valid_pairs(seed: int) -> None:
    priors = draw_co_occurrence(seed)
    partners = [partner for row in priors.values() for partner in row]
    assert len(priors) == 6 and len(set(partners)) == 6
    assert all(source not in row for source, row in priors.items())
    assert all(p == 0.5 for row in priors.values() for p in row.values())
    drawn_world(seed)  # WorldSettings validates the table


def test_a_seed_draws_the_same_world_and_seeds_differ() -> None:
    assert draw_co_occurrence(3) == draw_co_occurrence(3)
    tables = [
        tuple(sorted((s, p) for s, row in draw_co_occurrence(seed).items() for p in row))
        for seed in range(10)
    ]
    assert len(set(tables)) == 10
    assert DEFAULT_CO_OCCURRENCE not in [draw_co_occurrence(seed) for seed in range(10)]


def test_too_many_pairs_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="n_pairs"):
        draw_co_occurrence(0, n_pairs=10)
