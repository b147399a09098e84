"""Pure, separately tested loss functions over log-probs (one concern per file)."""

from lightning_csr.losses.dpo import LOSS_TYPES, DPOLossSettings, preference_loss
from lightning_csr.losses.masked import last_set_index, masked_count, masked_mean, masked_sum, masked_whiten
from lightning_csr.losses.povid import noise_triggered_tokens, povid_loss
from lightning_csr.losses.ppo import (
    AdaptiveKLController,
    FixedKLController,
    gae,
    kl_penalty,
    ppo_policy_loss,
    ppo_value_loss,
    shaped_rewards,
)
from lightning_csr.losses.reward_model import pairwise_reward_loss
from lightning_csr.losses.tpo import tpo_token_weights, visual_anchor_scores, weighted_sequence_logps

__all__ = [
    "LOSS_TYPES",
    "AdaptiveKLController",
    "DPOLossSettings",
    "FixedKLController",
    "gae",
    "kl_penalty",
    "last_set_index",
    "masked_count",
    "masked_mean",
    "masked_sum",
    "masked_whiten",
    "noise_triggered_tokens",
    "pairwise_reward_loss",
    "povid_loss",
    "ppo_policy_loss",
    "ppo_value_loss",
    "preference_loss",
    "shaped_rewards",
    "tpo_token_weights",
    "visual_anchor_scores",
    "weighted_sequence_logps",
]
