"""What the LightningModules hold: reference, log-probs, image corruption, caches, schedules, PPO parts.

Configs name the classes exported here (e.g. `lightning_csr.modules.components.WarmupCosine`).
"""

from lightning_csr.modules.components.image_corruption import CorruptionSettings
from lightning_csr.modules.components.schedules import Constant, WarmupCosine

__all__ = ["Constant", "CorruptionSettings", "WarmupCosine"]
