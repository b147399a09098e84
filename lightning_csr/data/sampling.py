"""Sampling that depends on (seed, epoch) only, so a resumed run sees the uninterrupted run's order."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import Sampler


def serving_epoch(trainer: L.Trainer | None) -> int:
    """The epoch a dataloader built now will serve (0 outside a fit).

    Not `trainer.current_epoch`: when a run resumes from a checkpoint written at an epoch's end, Lightning builds
    the next epoch's dataloader before it advances `current_epoch`; the count of processed epochs is right then
    too (it is what Lightning gives samplers' `set_epoch`).
    """
    if trainer is None:
        return 0
    return int(trainer.fit_loop.epoch_progress.current.processed)


class EpochShuffle(Sampler[int]):
    """A permutation drawn from (seed, epoch) only, so a resumed run sees the uninterrupted run's order.

    Lightning calls `set_epoch` before every epoch; a generator built once per dataloader would instead depend
    on the epoch the dataloader was built in.
    """

    def __init__(self, size: int, seed: int, epoch: int = 0) -> None:
        self.size, self.seed, self.epoch = size, seed, epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())
