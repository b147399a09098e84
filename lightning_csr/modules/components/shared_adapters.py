"""Policy, reference, reward and value as LoRA adapters over one shared base model (peft).

peft's `set_adapter` also flips `requires_grad` (the active adapter trainable, the others frozen), so every
switch here restores the flags from the fixed set of trainable adapters afterwards.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch

POLICY, REWARD, VALUE, REF = "default", "reward", "value", "ref"
REFERENCE_MODES = ("adapter_off", "ref_adapter")


def adapter_parameters(model: torch.nn.Module, adapter: str) -> dict[str, torch.nn.Parameter]:
    """The parameters of one LoRA adapter, by name."""
    return {n: p for n, p in model.named_parameters() if f".{adapter}." in n}


class SharedAdapters:
    """Switches the active adapter of a peft model and keeps only `trainable` adapters trainable."""

    def __init__(self, model: torch.nn.Module, trainable: tuple[str, ...] = (POLICY, VALUE)) -> None:
        if not hasattr(model, "peft_config"):
            raise ValueError("shared adapters need a LoRA model (set backbone.lora)")
        self.model = model
        self.trainable = trainable

    @property
    def names(self) -> list[str]:
        return list(self.model.peft_config)

    def add(self, name: str, source: str = POLICY, copy_weights: bool = False) -> None:
        """Add adapter `name` with `source`'s config (and, if asked, its current weights); idempotent."""
        if name not in self.model.peft_config:
            self.model.add_adapter(name, copy.deepcopy(self.model.peft_config[source]))
            if copy_weights:
                self.copy(source, name)
        self.model.set_adapter(POLICY)
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
            self.model.set_adapter(POLICY)
            self.restore_flags()

    @contextmanager
    def reference(self, mode: str) -> Iterator[torch.nn.Module]:
        """The reference model: every adapter off (the base) or the frozen `ref` adapter."""
        if mode == "adapter_off":
            try:
                with self.model.disable_adapter():
                    yield self.model
            finally:  # re-enabling adapters goes through peft's set_adapter, which flips the flags
                self.restore_flags()
        elif mode == "ref_adapter":
            with self.active(REF) as model:
                yield model
        else:
            raise ValueError(f"reference: unknown mode {mode!r}; choose one of {REFERENCE_MODES}")
