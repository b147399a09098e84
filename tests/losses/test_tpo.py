"""Hand-computed checks of TPO's token weights and visual-aware log-probs."""

import math

import pytest
import torch

from lightning_csr.losses.dpo import preference_loss
from lightning_csr.losses.tpo import tpo_token_weights, visual_anchor_scores, weighted_sequence_logps

MASK = torch.tensor([[1, 1, 0]])
TOKEN_LOGPS = torch.tensor([[-0.5, -1.5, -7.0]])  # the padded -7 must not count


def test_scores_are_logit_differences() -> None:
    scores = visual_anchor_scores(torch.tensor([3.0, 1.0]), torch.tensor([1.0, 1.5]))
    assert torch.equal(scores, torch.tensor([2.0, -0.5]))


def test_weights_hand_computed_and_bounded() -> None:
    score = torch.tensor([math.log(3.0)])  # σ(log 3) = 3/4
    assert tpo_token_weights(score, chosen=True).item() == pytest.approx(1.25)  # 0.5 + 0.75
    assert tpo_token_weights(score, chosen=False).item() == pytest.approx(0.75)  # 0.5 + 1 - 0.75
    extreme = torch.tensor([-30.0, 0.0, 30.0])
    for chosen in (True, False):
        weights = tpo_token_weights(extreme, chosen=chosen)
        assert weights.min() >= 0.5 and weights.max() <= 1.5
        assert weights[1].item() == 1.0  # s = 0 gives c = 1


def test_weighted_logps_hand_computed() -> None:
    weights = torch.tensor([[1.25, 0.75, 0.0]])  # a zero weight on padding must not produce -inf
    result = weighted_sequence_logps(TOKEN_LOGPS, weights, MASK)
    # (-0.5 + log 1.25) + (-1.5 + log 0.75) = -2 + log(0.9375) ≈ -2.0645
    assert result.item() == pytest.approx(-2.0 + math.log(0.9375))


def test_zero_scores_equal_plain_dpo_exactly() -> None:
    generator = torch.Generator().manual_seed(0)
    logps = [-torch.rand(2, 4, generator=generator) for _ in range(4)]  # policy/ref × chosen/rejected
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    zeros = torch.zeros(2, 4)
    chosen_c, rejected_c = tpo_token_weights(zeros, chosen=True), tpo_token_weights(zeros, chosen=False)
    weighted = [
        weighted_sequence_logps(logps[0], chosen_c, mask),
        weighted_sequence_logps(logps[1], rejected_c, mask),
        weighted_sequence_logps(logps[2], chosen_c, mask),
        weighted_sequence_logps(logps[3], rejected_c, mask),
    ]
    plain = [(lp * mask).sum(-1) for lp in logps]
    for a, b in zip(weighted, plain, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(preference_loss(*weighted)[0], preference_loss(*plain)[0])


def test_visually_grounded_tokens_raise_the_margin() -> None:
    # Policy tokens that depend on the image (s > 0) get c > 1 on the chosen side and c < 1 on the
    # rejected side; the reference sees s = 0. So the DPO margin grows and the loss falls.
    zeros = torch.zeros(1, 3)
    grounded = torch.full((1, 3), 2.0)
    policy_chosen = weighted_sequence_logps(TOKEN_LOGPS, tpo_token_weights(grounded, chosen=True), MASK)
    policy_rejected = weighted_sequence_logps(TOKEN_LOGPS, tpo_token_weights(grounded, chosen=False), MASK)
    ref_chosen = weighted_sequence_logps(TOKEN_LOGPS, tpo_token_weights(zeros, chosen=True), MASK)
    ref_rejected = weighted_sequence_logps(TOKEN_LOGPS, tpo_token_weights(zeros, chosen=False), MASK)
    assert policy_chosen > ref_chosen and policy_rejected < ref_rejected
    tpo, _ = preference_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected)
    assert tpo.item() < math.log(2)  # plain DPO on identical sequences gives log 2


def test_gradients_and_detach() -> None:
    scores = torch.tensor([[1.0, -1.0, 0.0]], requires_grad=True)
    token_logps = TOKEN_LOGPS.clone().requires_grad_(True)
    weights = tpo_token_weights(scores, chosen=True)
    weighted_sequence_logps(token_logps, weights, MASK, detach_weights=True).backward()
    assert scores.grad is None  # detached: c is a constant
    assert torch.equal(token_logps.grad, MASK.float())
    weighted_sequence_logps(token_logps, weights, MASK).backward()  # the default: through log c (released)
    # d/ds log(0.5 + σ(s)) = σ(s)(1-σ(s)) / (0.5 + σ(s)); zero on padding
    sig = torch.sigmoid(torch.tensor([1.0, -1.0]))
    assert torch.allclose(scores.grad[0, :2], sig * (1 - sig) / (0.5 + sig))
    assert scores.grad[0, 2].item() == 0.0 and torch.isfinite(scores.grad).all()


def test_margin_must_be_non_negative() -> None:
    # a = 0 is the paper's ablation (c = σ(s)); a < 0 could make c ≤ 0
    assert tpo_token_weights(torch.zeros(1), chosen=True, margin=0.0).item() == 0.5
    with pytest.raises(ValueError, match="margin must be non-negative"):
        tpo_token_weights(torch.zeros(1), chosen=True, margin=-0.1)
