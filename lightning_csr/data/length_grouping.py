"""Batches of similar length: less padding per step when short and long samples are mixed (as in
transformers' `group_by_length`)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class LengthGroupedBatches(Sampler[list[int]]):
    """Each epoch: shuffle, cut into pools of `pool_batches` batches, sort each pool by length, split it into
    batches and shuffle the batch order. Every sample appears once per epoch; seeded and different per epoch.

    Args:
        lengths: a length estimate per sample (characters are enough).
        batch_size: samples per batch.
        pool_batches: batches per sorting pool (larger pools: less padding, less randomness).
        seed: base seed; epoch k uses `seed + k`.
    """

    def __init__(
        self, lengths: Sequence[int], batch_size: int, pool_batches: int = 32, seed: int = 0
    ) -> None:
        if batch_size < 1 or pool_batches < 1:
            raise ValueError(f"batch_size and pool_batches must be >= 1, got {batch_size}, {pool_batches}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.pool = batch_size * pool_batches
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.lengths)
        return sum(math.ceil(min(self.pool, n - start) / self.batch_size) for start in range(0, n, self.pool))

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        batches: list[list[int]] = []
        for start in range(0, len(order), self.pool):
            pool = sorted(order[start : start + self.pool], key=lambda i: -self.lengths[i])
            batches += [pool[j : j + self.batch_size] for j in range(0, len(pool), self.batch_size)]
        for index in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[index]
