"""From a scored rollout to PPO targets: sequence scores, KL-shaped rewards, GAE, whitening, and the logs."""

from __future__ import annotations

from typing import Any

import torch

from lightning_csr.losses.masked import masked_sum, masked_whiten
from lightning_csr.losses.ppo import gae, shaped_rewards
from lightning_csr.modules.components.ppo_settings import PPOSettings
from lightning_csr.rewards.shaping import RewardShaping, sequence_scores


def rollout_advantages(
    rollout: dict[str, Any], shaping: RewardShaping, ppo: PPOSettings, kl_coef: float
) -> dict[str, torch.Tensor]:
    """Sequence scores and their terms, GAE advantages (whitened if asked), returns, per-response KL."""
    mask = rollout["response_mask"].float()
    score, terms = sequence_scores(
        rollout["rm_scores"], rollout["ended"], mask.sum(1), rollout["correctness"], shaping
    )
    rewards = shaped_rewards(score, rollout["logps"], rollout["ref_logps"], mask, kl_coef, ppo.kl_kind)
    advantages, returns = gae(rewards, rollout["values"], mask, ppo.gamma, ppo.lam)
    if ppo.whiten_advantages:
        advantages = masked_whiten(advantages, mask)
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
