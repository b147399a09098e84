"""What code needs to share work between the ranks of a run: its rank, a barrier, rank 0's decisions, slices.

All ranks are assumed to see one file system (one node, or a shared directory across nodes): a rank writes
only the files it owns, and rank 0 alone writes what the run reports (merged data, stats, reports, exports).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import lightning as L
from torch.utils.data import DataLoader

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    """The calling process's place in the run, and the collective calls every rank must make together."""

    trainer: L.Trainer

    @property
    def rank(self) -> int:
        return int(self.trainer.global_rank)

    @property
    def world_size(self) -> int:
        return int(self.trainer.world_size)

    @property
    def is_zero(self) -> bool:
        return self.rank == 0

    def barrier(self, name: str) -> None:
        """Wait until every rank gets here (a no-op in a one-process run)."""
        if self.world_size > 1:
            self.trainer.strategy.barrier(name)

    def from_zero(self, value: T) -> T:
        """Rank 0's `value`, on every rank (so that all ranks take the same branch)."""
        if self.world_size == 1:
            return value
        return self.trainer.strategy.broadcast(value, src=0)

    def gather(self, value: Any) -> list[Any]:
        """Every rank's picklable `value`, in rank order, on every rank."""
        if self.world_size == 1:
            return [value]
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered


def rank_slice(loader: DataLoader, rank: int, world_size: int) -> DataLoader:
    """The batches of `loader` that rank `rank` computes: every `world_size`-th, as one process batches them."""
    if world_size == 1:
        return loader
    batches = list(loader.batch_sampler)[rank::world_size]
    return DataLoader(
        loader.dataset, batch_sampler=batches, collate_fn=loader.collate_fn, num_workers=loader.num_workers
    )
