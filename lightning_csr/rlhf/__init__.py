"""Fact-RLHF (LLaVA-RLHF): shared-base adapters, rollouts, PPO settings and reward shaping, ShapeWorld data."""

from lightning_csr.rlhf.adapters import POLICY, REF, REWARD, VALUE, SharedAdapters
from lightning_csr.rlhf.rollout import RolloutStore, sample_responses
from lightning_csr.rlhf.settings import PPOSettings
from lightning_csr.rlhf.shaping import RewardShaping

__all__ = [
    "POLICY",
    "REF",
    "REWARD",
    "VALUE",
    "PPOSettings",
    "RewardShaping",
    "RolloutStore",
    "SharedAdapters",
    "sample_responses",
]
