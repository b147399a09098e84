"""LightningModules, one per objective family, all on `PolicyModule` (their parts: `modules.components`)."""

from lightning_csr.modules.base import PolicyModule
from lightning_csr.modules.csr import CSRModule
from lightning_csr.modules.povid import POVIDModule
from lightning_csr.modules.ppo import PPOModule
from lightning_csr.modules.preference import PreferenceModule
from lightning_csr.modules.reward_model import RewardModelModule
from lightning_csr.modules.sft import SFTModule
from lightning_csr.modules.tpo import TPOModule

__all__ = [
    "CSRModule",
    "POVIDModule",
    "PPOModule",
    "PolicyModule",
    "PreferenceModule",
    "RewardModelModule",
    "SFTModule",
    "TPOModule",
]
