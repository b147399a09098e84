"""`PPOSettings.check_ranks`: a run on W ranks must split the one-process minibatches and generation chunks."""

from __future__ import annotations

import pytest

from lightning_csr.modules.components.ppo_settings import PPOSettings


def test_one_process_takes_any_sizes():
    PPOSettings(minibatch_size=3, generation_batch_size=5).check_ranks(1, 7)


def test_the_minibatch_must_split_over_the_ranks():
    with pytest.raises(ValueError, match=r"model.ppo.minibatch_size=3 is not divisible by the 2 processes"):
        PPOSettings(minibatch_size=3, generation_batch_size=2).check_ranks(2, 8)


def test_a_generation_chunk_must_not_span_two_ranks_slices():
    """8 prompts on 2 ranks: 4 each; chunks of 4 or 2 are the one-process chunks, chunks of 8 or 3 are not."""
    for size in (4, 2):
        PPOSettings(minibatch_size=4, generation_batch_size=size).check_ranks(2, 8)
    for size in (8, 3):
        with pytest.raises(ValueError, match=rf"generation_batch_size={size} does not divide each rank's 4"):
            PPOSettings(minibatch_size=4, generation_batch_size=size).check_ranks(2, 8)
