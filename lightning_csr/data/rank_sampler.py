"""The training order of a run on several ranks: each optimizer step sees the pairs one process would see.

Lightning's own `DistributedSampler` reshuffles with its own seed and deals pairs out one at a time; here the
order is the one-process order ((seed, epoch) only) and rank `r` of `W` takes, at step `k`, the `r`-th batch of
the `W` consecutive batches one process would accumulate at step `k`. A run on `W` ranks with batch size `b`
therefore sees at every step the pairs of one process with batch size `b` and `accumulate_grad_batches=W`
(exactly, when the pair count is a multiple of `W * b`; otherwise the order is padded from its start, as
Lightning's sampler pads, so that every rank runs the same number of steps, or its incomplete last step is dropped
when the loader drops its last batch, as PPO's prompt loader does).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler

from lightning_csr.data.sampling import serving_epoch


class RankBatches(DistributedSampler):
    """Indices of rank `rank`'s batches (a `DistributedSampler`, so Lightning does not replace it)."""

    def __init__(
        self,
        size: int,
        batch_size: int,
        rank: int,
        world_size: int,
        seed: int,
        epoch: int = 0,
        shuffle: bool = True,
        drop_last: bool = False,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside a world of {world_size}")
        self.size, self.batch_size, self.rank, self.world_size = size, batch_size, rank, world_size
        self.seed, self.epoch, self.shuffle, self.drop_last = seed, epoch, shuffle, drop_last
        group = batch_size * world_size
        self.padded = (size // group if drop_last else -(-size // group)) * group

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.padded // self.world_size

    def order(self) -> list[int]:
        """The one-process order, padded from its start (or cut) to a whole number of steps."""
        if self.shuffle:
            order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + self.epoch))
            order = order.tolist()
        else:
            order = list(range(self.size))
        order = order[: self.padded]  # drop_last: the incomplete last step
        while len(order) < self.padded:
            order += order[: self.padded - len(order)]
        return order

    def __iter__(self):
        order, b = self.order(), self.batch_size
        starts = range(self.rank * b, self.padded, b * self.world_size)
        return iter([index for start in starts for index in order[start : start + b]])


def rank_batched(loader: DataLoader, trainer: Any, seed: int, shuffle: bool) -> DataLoader:
    """`loader` itself in a one-process run; on several ranks, the same loader over this rank's `RankBatches`."""
    if trainer is None or trainer.world_size == 1:
        return loader
    sampler = RankBatches(
        len(loader.dataset),
        loader.batch_size,
        trainer.global_rank,
        trainer.world_size,
        seed,
        serving_epoch(trainer),
        shuffle,
        loader.drop_last,
    )
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
    )


def per_rank_batch(total: int, world_size: int, field: str) -> int:
    """`total / world_size`: each rank's share of a batch one process takes whole (an error naming `field`)."""
    if total % world_size:
        raise ValueError(
            f"{field}={total} is not divisible by the {world_size} processes of this run (each rank takes "
            f"{field} / {world_size} of the one-process batch): set {field} to a multiple of {world_size}"
        )
    return total // world_size
