"""`RankBatches`: on W ranks, each step trains on the batches one process would accumulate over W steps."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from lightning_csr.data.rank_sampler import RankBatches
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
