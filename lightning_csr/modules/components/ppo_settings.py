"""PPO hyper-parameters (LightningCLI init args), defaults after LLaVA-RLHF (llava_rlhf.md §2)."""

from __future__ import annotations

from dataclasses import dataclass

from lightning_csr.data.rank_sampler import per_rank_batch
from lightning_csr.losses.ppo import KL_KINDS, AdaptiveKLController, FixedKLController

VALUE_INITS = ("reward", "policy", "fresh")
VALUE_HEAD_INITS = ("zero", "reward")


@dataclass
class PPOSettings:
    """One PPO iteration = sample a rollout batch, score it, then `ppo_epochs` passes over minibatches.

    Args:
        ppo_epochs: passes over each rollout batch (LLaVA-RLHF: 2).
        minibatch_size: rows per optimiser step, over all ranks (each of `W` ranks takes `minibatch_size / W`
            of its own rows; the loss is the token mean over all of them).
        generation_batch_size: prompts sampled (and saved to disk) together; a rollout batch is saved in
            chunks of this size so a kill during a rollout keeps the finished chunks. On several ranks it must
            divide each rank's share of the rollout batch, so that the chunks are the one-process chunks.
        max_new_tokens, temperature, top_p: sampling of responses (top-k off).
        kl_coef: β of the per-token KL penalty to the reference (fixed unless `adaptive_kl`).
        kl_kind: `k1` (log-ratio), `k1_clamped` (LLaVA-RLHF) or `k3`.
        adaptive_kl, kl_target, kl_horizon: Ziegler et al.'s controller (target in nats per response).
        gamma, lam: GAE discount and λ (1 and 1 by default, as LLaVA-RLHF).
        whiten_advantages: normalise advantages over the rollout's response tokens.
        clip_range, value_clip_range, vf_coef: clipped policy/value losses and the value-loss weight.
        max_grad_norm: gradient clipping per optimiser step (None turns it off).
        value_init: value adapter initialised from the reward adapter (LLaVA-RLHF), the policy, or fresh.
        value_head_init: value head zero (LLaVA-RLHF) or a copy of the reward head.
    """

    ppo_epochs: int = 2
    minibatch_size: int = 4
    generation_batch_size: int = 8
    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    kl_coef: float = 0.1
    kl_kind: str = "k1"
    adaptive_kl: bool = False
    kl_target: float = 6.0
    kl_horizon: int = 10000
    gamma: float = 1.0
    lam: float = 1.0
    whiten_advantages: bool = True
    clip_range: float = 0.2
    value_clip_range: float = 0.2
    vf_coef: float = 0.1
    max_grad_norm: float | None = 1.0
    value_init: str = "reward"
    value_head_init: str = "zero"

    def __post_init__(self) -> None:
        for name in ("ppo_epochs", "minibatch_size", "generation_batch_size", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"PPOSettings.{name}: must be >= 1, got {getattr(self, name)}")
        if self.kl_kind not in KL_KINDS:
            raise ValueError(f"PPOSettings.kl_kind: expected one of {KL_KINDS}, got {self.kl_kind!r}")
        if self.value_init not in VALUE_INITS:
            raise ValueError(
                f"PPOSettings.value_init: expected one of {VALUE_INITS}, got {self.value_init!r}"
            )
        if self.value_head_init not in VALUE_HEAD_INITS:
            raise ValueError(
                f"PPOSettings.value_head_init: expected one of {VALUE_HEAD_INITS}, got {self.value_head_init!r}"
            )
        if not (0 <= self.gamma <= 1 and 0 <= self.lam <= 1):
            raise ValueError(f"PPOSettings: gamma and lam must be in [0, 1], got {self.gamma}, {self.lam}")
        if self.kl_coef < 0 or self.clip_range <= 0 or self.value_clip_range <= 0 or self.temperature <= 0:
            raise ValueError("PPOSettings: kl_coef >= 0; clip ranges and temperature > 0")

    def check_ranks(self, world_size: int, rollout_batch_size: int | None) -> None:
        """Errors at start when `world_size` ranks cannot split the one-process minibatches and chunks."""
        if world_size == 1:
            return
        per_rank_batch(self.minibatch_size, world_size, "model.ppo.minibatch_size")
        if rollout_batch_size is None or rollout_batch_size % world_size:
            return  # the data module reports an indivisible rollout batch itself
        share = rollout_batch_size // world_size
        if share % self.generation_batch_size:
            raise ValueError(
                f"model.ppo.generation_batch_size={self.generation_batch_size} does not divide each rank's "
                f"{share} prompts (rollout_batch_size {rollout_batch_size} / {world_size} processes), so the "
                "generation chunks would not be the one-process chunks: set a divisor of " + str(share)
            )

    def kl_controller(self) -> FixedKLController | AdaptiveKLController:
        """The KL-coefficient controller these settings describe."""
        if self.adaptive_kl:
            return AdaptiveKLController(self.kl_coef, self.kl_target, self.kl_horizon)
        return FixedKLController(self.kl_coef)
