"""`RankBatches`: on W ranks, each step trains on the batches one process would accumulate over W steps."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import DataLoader

from lightning_csr.data.rank_sampler import RankBatches
from lightning_csr.data.rlhf import RLPromptDataModule
from lightning_csr.data.sampling import EpochShuffle


def batches(sampler, batch_size: int) -> list[list[int]]:
    return [b.tolist() for b in DataLoader(list(range(100)), batch_size=batch_size, sampler=sampler)]


def test_rank_r_gets_the_r_th_of_the_batches_one_process_accumulates():
    one = batches(EpochShuffle(12, seed=5, epoch=2), 2)
    ranks = [batches(RankBatches(12, 2, rank, 3, seed=5, epoch=2), 2) for rank in range(3)]
    assert all(len(r) == 2 for r in ranks)
    for step in range(2):
        assert [ranks[rank][step] for rank in range(3)] == one[3 * step : 3 * step + 3]


def test_the_order_follows_the_epoch_and_unshuffled_is_file_order():
    first, second = (list(RankBatches(12, 2, 0, 2, seed=5, epoch=e)) for e in (0, 1))
    assert first != second
    assert list(RankBatches(8, 2, 1, 2, seed=5, shuffle=False)) == [2, 3, 6, 7]


def test_every_rank_runs_the_same_number_of_steps_when_the_pairs_do_not_divide():
    samplers = [RankBatches(7, 2, rank, 2, seed=0) for rank in range(2)]
    assert [len(s) for s in samplers] == [4, 4]
    seen = [i for s in samplers for i in s]
    assert sorted(set(seen)) == list(range(7)) and len(seen) == 8  # one pair repeated, as Lightning pads
    assert isinstance(samplers[0], torch.utils.data.DistributedSampler)  # Lightning keeps it


def test_a_dropped_last_batch_is_dropped_on_every_rank_as_in_one_process():
    """PPO's prompt loader drops its incomplete last batch: W ranks deal exactly the one-process batches."""
    one = [b.tolist() for b in DataLoader(list(range(10)), 4, sampler=EpochShuffle(10, 3, 1), drop_last=True)]
    ranks = [batches(RankBatches(10, 2, rank, 2, seed=3, epoch=1, drop_last=True), 2) for rank in range(2)]
    assert [ranks[0][step] + ranks[1][step] for step in range(len(ranks[0]))] == one and len(one) == 2


def test_prompt_batches_are_dealt_as_one_process_takes_them(rl_prompts):
    """Rank r gets the r-th half of each one-process batch (2 prompts per iteration: 2 iterations, 1 per rank)."""
    epochs = SimpleNamespace(epoch_progress=SimpleNamespace(current=SimpleNamespace(processed=1)))
    trainers = [
        SimpleNamespace(world_size=w, global_rank=r, fit_loop=epochs, global_step=0, default_root_dir=None)
        for w, r in ((1, 0), (2, 0), (2, 1))
    ]
    one, *dealt = [], [], []
    for trainer, taken in zip(trainers, [one, *dealt], strict=True):
        data = RLPromptDataModule(str(rl_prompts), rollout_batch_size=2, seed=4)
        data.trainer = trainer
        taken.extend(b["prompts"] for b in data.train_dataloader())
    assert [first + second for first, second in zip(*dealt, strict=True)] == one and len(one) == 2
    data.rollout_batch_size = 3
    with pytest.raises(ValueError, match=r"data.rollout_batch_size=3 is not divisible by the 2 processes"):
        data.train_dataloader()
