"""PPO pieces for Fact-RLHF: KL-shaped rewards, GAE, clipped losses, KL controllers (masked ops: `masked.py`).

Conventions follow LLaVA-RLHF (llava_rlhf.md §2.3-2.4) with its defects fixed: every tensor is masked, so
padding takes no part in rewards, advantages, whitening or losses; and the scalar score is added at the last
real response token rather than at the last index of a fixed-length buffer. All [B, T] tensors are aligned
on response tokens; ``mask`` marks real (non-padding) tokens.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lightning_csr.losses.masked import last_set_index, masked_mean

KL_KINDS = ("k1", "k3", "k1_clamped")


def kl_penalty(logp: Tensor, ref_logp: Tensor, kind: str = "k1") -> Tensor:
    """Per-token KL estimate: k1 = log p − log p_ref, its clamp at 0, or k3 = (r − 1) − log r, r = p_ref/p."""
    if kind not in KL_KINDS:
        raise ValueError(f"unknown KL estimator {kind!r}; known estimators are {KL_KINDS}")
    log_ratio = logp - ref_logp
    if kind == "k1":
        return log_ratio
    if kind == "k1_clamped":
        return log_ratio.clamp(min=0)
    return torch.expm1(-log_ratio) + log_ratio


def shaped_rewards(
    score: Tensor, logp: Tensor, ref_logp: Tensor, mask: Tensor, kl_coef: float, kl_kind: str = "k1"
) -> Tensor:
    """Per-token rewards [B, T]: −β·KL on every response token, plus ``score`` [B] at the last real token."""
    rewards = -kl_coef * kl_penalty(logp, ref_logp, kl_kind) * mask.to(logp.dtype)
    last = last_set_index(mask)
    rows = torch.arange(rewards.shape[0], device=rewards.device)
    rewards = rewards.clone()
    rewards[rows, last] += score.to(rewards.dtype)
    return rewards


def gae(
    rewards: Tensor, values: Tensor, mask: Tensor, gamma: float = 1.0, lam: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) → detached (advantages, returns), 0 on padding.

    δ_t = r_t + γ·V_{t+1} − V_t and A_t = δ_t + γλ·A_{t+1}; a padded position ends the episode.
    """
    weights = mask.to(values.dtype)
    rewards, values = rewards.detach() * weights, values.detach() * weights
    advantages = torch.zeros_like(values)
    running = torch.zeros_like(values[:, 0])
    next_value = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = (delta + gamma * lam * running) * weights[:, t]
        advantages[:, t] = running
        next_value = values[:, t]
    return advantages, (advantages + values) * weights


def ppo_policy_loss(
    logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, clip: float = 0.2
) -> tuple[Tensor, Tensor, Tensor]:
    """Clipped surrogate loss mean(max(−A·ρ, −A·clip(ρ, 1±ε))) → (loss, clipfrac, approx_kl)."""
    log_ratio = logp - old_logp
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1 - clip, 1 + clip)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    clipfrac = masked_mean((clipped > unclipped).to(logp.dtype), mask).detach()
    approx_kl = (0.5 * masked_mean(log_ratio**2, mask)).detach()
    return loss, clipfrac, approx_kl


def ppo_value_loss(
    values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor, clip: float = 0.2
) -> tuple[Tensor, Tensor]:
    """Clipped value loss 0.5·mean(max((V − R)², (clip(V, V_old ± ε) − R)²)) → (loss, clipfrac)."""
    clipped_values = old_values + (values - old_values).clamp(-clip, clip)
    unclipped_error = (values - returns) ** 2
    clipped_error = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(unclipped_error, clipped_error), mask)
    clipfrac = masked_mean((clipped_error > unclipped_error).to(values.dtype), mask).detach()
    return loss, clipfrac


class FixedKLController:
    """A constant KL coefficient (LLaVA-RLHF uses β = 0.1)."""

    def __init__(self, kl_coef: float = 0.1) -> None:
        self.value = kl_coef

    def update(self, current_kl: float, n_steps: int) -> None:
        """Keep the coefficient unchanged."""


class AdaptiveKLController:
    """Ziegler et al. (2019): β ← β·(1 + clip(KL/target − 1, ±0.2)·n_steps/horizon)."""

    def __init__(self, init_kl_coef: float = 0.1, target: float = 6.0, horizon: int = 10000) -> None:
        if target <= 0 or horizon <= 0:
            raise ValueError(f"target and horizon must be positive, got {target} and {horizon}")
        self.value = init_kl_coef
        self.target = target
        self.horizon = horizon

    def update(self, current_kl: float, n_steps: int) -> None:
        """Move the coefficient towards keeping the observed KL at the target."""
        proportional_error = min(max(current_kl / self.target - 1, -0.2), 0.2)
        self.value *= 1 + proportional_error * n_steps / self.horizon
