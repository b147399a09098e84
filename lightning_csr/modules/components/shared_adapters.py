"""PPO's reward and value models as LoRA adapters beside the policy over one shared base model (peft).

peft's `set_adapter` also flips `requires_grad` (the active adapter trainable, the others frozen), so every
switch here restores the flags from the fixed set of trainable adapters afterwards. The reference (adapter off
or a frozen `ref` adapter) is reached through `Reference`, like in every other module.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from lightning_csr.modules.components.reference import POLICY_ADAPTER

REWARD, VALUE = "reward", "value"


def adapter_parameters(model: torch.nn.Module, adapter: str) -> dict[str, torch.nn.Parameter]:
    """The parameters of one LoRA adapter, by name."""
    return {n: p for n, p in model.named_parameters() if f".{adapter}." in n}


class SharedAdapters:
    """Switches the active adapter of a peft model and keeps only `trainable` adapters trainable."""

    def __init__(self, model: torch.nn.Module, trainable: tuple[str, ...] = (POLICY_ADAPTER, VALUE)) -> None:
        if not hasattr(model, "peft_config"):
            raise ValueError("shared adapters need a LoRA model (set backbone.lora)")
        self.model = model
        self.trainable = trainable

    @property
    def names(self) -> list[str]:
        return list(self.model.peft_config)

    def add(self, name: str, source: str = POLICY_ADAPTER, copy_weights: bool = False) -> None:
        """Add adapter `name` with `source`'s config (and, if asked, its current weights); idempotent."""
        if name not in self.model.peft_config:
            self.model.add_adapter(name, copy.deepcopy(self.model.peft_config[source]))
            if copy_weights:
                self.copy(source, name)
        self.model.set_adapter(POLICY_ADAPTER)
        self.restore_flags()

    @torch.no_grad()
    def copy(self, source: str, target: str) -> None:
        """Copy adapter `source`'s weights into adapter `target`."""
        params = dict(self.model.named_parameters())
        for name, param in adapter_parameters(self.model, source).items():
            params[name.replace(f".{source}.", f".{target}.")].copy_(param)

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """Parameters of the trainable adapters (independent of the current flags)."""
        return [p for n, p in self.model.named_parameters() if any(f".{a}." in n for a in self.trainable)]

    def restore_flags(self) -> None:
        """Adapters in `trainable` require grad; everything else is frozen."""
        for name, param in self.model.named_parameters():
            param.requires_grad_(any(f".{a}." in name for a in self.trainable))

    @contextmanager
    def active(self, name: str) -> Iterator[torch.nn.Module]:
        """Context in which the model computes with adapter `name` only; back to the policy afterwards."""
        self.model.set_adapter(name)
        self.restore_flags()
        try:
            yield self.model
        finally:
            self.model.set_adapter(POLICY_ADAPTER)
            self.restore_flags()
