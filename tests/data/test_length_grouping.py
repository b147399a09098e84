"""Length-grouped batches: every sample once per epoch, similar lengths together, seeded per epoch."""

from __future__ import annotations

import random

from lightning_csr.data.length_grouping import LengthGroupedBatches


def test_batches_cover_every_sample_once_and_group_lengths():
    lengths = [random.Random(i).randint(1, 100) for i in range(203)]
    sampler = LengthGroupedBatches(lengths, batch_size=8, pool_batches=5, seed=3)
    first = list(sampler)
    assert len(first) == len(sampler)
    assert sorted(i for batch in first for i in batch) == list(range(203))
    assert all(len(batch) <= 8 for batch in first)
    # within a batch the spread of lengths is far below a random batch's
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first) / len(first)
    assert spread < 30
    second = list(sampler)
    assert second != first  # a new order each epoch
    assert list(LengthGroupedBatches(lengths, 8, 5, seed=3)) == first  # reproducible from the seed
