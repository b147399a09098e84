"""From a scored rollout to PPO targets: sequence scores, KL-shaped rewards, GAE, whitening, and the logs."""

from __future__ import annotations

from typing import Any

import torch

from lightning_csr.distributed import Ranks
from lightning_csr.losses.masked import masked_sum, masked_whiten
from lightning_csr.losses.ppo import gae, shaped_rewards
from lightning_csr.modules.components.ppo_settings import PPOSettings
from lightning_csr.rewards.shaping import RewardShaping, sequence_scores


def whiten_across_ranks(
    values: torch.Tensor, mask: torch.Tensor, ranks: Ranks, eps: float = 1e-8
) -> torch.Tensor:
    """`masked_whiten` with the mean and unbiased variance of every rank's set positions (padding 0)."""
    if not ranks.several:
        return masked_whiten(values, mask, eps=eps)
    total, count = ranks.sum(torch.stack([masked_sum(values, mask), mask.sum()]).double())
    if count < 2:
        raise ValueError(f"whitening needs at least 2 unmasked values over all ranks, got {int(count)}")
    mean = total / count
    variance = ranks.sum(masked_sum((values.double() - mean) ** 2, mask)) / (count - 1)
    whitened = ((values.double() - mean) * torch.rsqrt(variance + eps)).to(values.dtype)
    return torch.where(mask.bool(), whitened, torch.zeros_like(whitened))


def rollout_advantages(
    rollout: dict[str, Any],
    shaping: RewardShaping,
    ppo: PPOSettings,
    kl_coef: float,
    ranks: Ranks | None = None,
) -> dict[str, torch.Tensor]:
    """Sequence scores and their terms, GAE advantages (whitened if asked, over all ranks), returns, KL."""
    mask = rollout["response_mask"].float()
    score, terms = sequence_scores(
        rollout["rm_scores"], rollout["ended"], mask.sum(1), rollout["correctness"], shaping
    )
    rewards = shaped_rewards(score, rollout["logps"], rollout["ref_logps"], mask, kl_coef, ppo.kl_kind)
    advantages, returns = gae(rewards, rollout["values"], mask, ppo.gamma, ppo.lam)
    if ppo.whiten_advantages:
        advantages = whiten_across_ranks(advantages, mask, ranks or Ranks())
    kl = masked_sum(rollout["logps"] - rollout["ref_logps"], mask, dim=1)
    return {"advantages": advantages, "returns": returns, "score": score, "kl": kl, **terms}


def iteration_logs(
    rollout: dict[str, Any], shaped: dict[str, torch.Tensor], kl_coef: float, iteration: int
) -> dict[str, torch.Tensor]:
    """TRL-style names for one iteration's rollout statistics (the update adds `loss/...`, `policy/...`)."""
    mask = rollout["response_mask"].float()
    logs = {
        "objective/scores": shaped["score"].mean(),
        "objective/rm_score": shaped["rm_score"].mean(),
        "objective/kl": shaped["kl"].mean(),
        "objective/kl_coef": torch.tensor(kl_coef),
        "objective/rlhf_reward": (shaped["score"] - kl_coef * shaped["kl"]).mean(),
        "objective/no_eos_penalty": shaped["no_eos_penalty"].mean(),
        "objective/correctness_bonus": shaped["correctness_bonus"].mean(),
        "objective/length_term": shaped["length_term"].mean(),
        "response/length": mask.sum(1).mean(),
        "response/ended": rollout["ended"].float().mean(),
        "ppo/iteration": torch.tensor(float(iteration)),
    }
    return {k: v.float() for k, v in logs.items()}
