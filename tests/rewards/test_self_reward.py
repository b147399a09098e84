"""R_T modes over raw token log-probs."""

import math

import pytest
import torch

from lightning_csr.rewards.self_reward import sentence_logprob


def test_modes_match_hand_computation() -> None:
    logps = [math.log(0.5), math.log(0.25), math.log(0.8)]
    assert sentence_logprob(logps, "prod") == pytest.approx(0.5 * 0.25 * 0.8)
    assert sentence_logprob(logps, "sum_logp") == pytest.approx(math.log(0.1))
    assert sentence_logprob(torch.tensor(logps), "mean_logp") == pytest.approx(math.log(0.1) / 3, rel=1e-6)


def test_empty_sentence_and_unknown_mode() -> None:
    assert sentence_logprob([], "prod") == 1.0
    assert sentence_logprob([], "sum_logp") == 0.0
    assert sentence_logprob([], "mean_logp") == 0.0
    with pytest.raises(ValueError, match="unknown sentence score mode"):
        sentence_logprob([0.0], "beam")
