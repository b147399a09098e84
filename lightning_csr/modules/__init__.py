"""LightningModules, one per objective family, sharing the policy/reference core."""

from lightning_csr.modules.base import PolicyModule
from lightning_csr.modules.csr import CSRModule
from lightning_csr.modules.preference import PreferenceModule

__all__ = ["CSRModule", "PolicyModule", "PreferenceModule"]
