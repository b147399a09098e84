"""Bradley-Terry reward-model loss with LLaVA-RLHF's centering term (llava_rlhf.md §1.3).

``L = mean(−log σ(r_c − r_r)) + w·|mean(r_c + r_r)|`` with w = 1e-3 in LLaVA-RLHF: the pairwise logistic
loss plus a small penalty that keeps the mean reward near zero.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def pairwise_reward_loss(
    chosen_rewards: Tensor, rejected_rewards: Tensor, centering_weight: float = 1e-3
) -> tuple[Tensor, dict[str, Tensor]]:
    """Pairwise logistic loss on scalar rewards [B] plus the centering penalty; metrics accuracy/margin."""
    if centering_weight < 0:
        raise ValueError(f"centering_weight must be non-negative, got {centering_weight}")
    margins = chosen_rewards - rejected_rewards
    logistic = -F.logsigmoid(margins).mean()
    centering = (chosen_rewards + rejected_rewards).mean().abs()
    loss = logistic + centering_weight * centering
    metrics = {
        "accuracy": (margins > 0).to(margins.dtype).mean().detach(),
        "margin": margins.mean().detach(),
        "mean_reward": ((chosen_rewards + rejected_rewards) / 2).mean().detach(),
    }
    return loss, metrics
