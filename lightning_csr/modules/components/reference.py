"""The frozen reference model behind one API: adapter off, a frozen `ref` adapter, or a frozen copy."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import torch

REFERENCE_MODES = ("auto", "adapter_off", "ref_adapter", "copy")
POLICY_ADAPTER = "default"  # peft's name of the adapter being trained
REF_ADAPTER = "ref"


def _is_peft(model: torch.nn.Module) -> bool:
    return hasattr(model, "peft_config")


@contextmanager
def trainable_flags_kept(model: torch.nn.Module) -> Iterator[None]:
    """Give back every existing parameter its `requires_grad` on exit (peft's adapter switches flip them)."""
    flags = [(param, param.requires_grad) for param in model.parameters()]
    try:
        yield
    finally:
        for param, flag in flags:
            if param.requires_grad != flag:
                param.requires_grad_(flag)


class Reference:
    """Gives access to the reference model for a policy.

    Modes:
        adapter_off: the policy with its LoRA adapters disabled (the base model).
        ref_adapter: a frozen LoRA adapter named `ref`, initialised from and synced to the policy adapter;
            iterative methods sync it so the reference is the previous iteration's policy.
        copy: a frozen deep copy of the policy (full fine-tuning).
        auto: adapter_off under LoRA, copy otherwise.

    Using or attaching the reference leaves the policy's trainable flags as they were, so a model with several
    trained adapters (PPO's policy and value) keeps them all trainable.
    """

    def __init__(self, mode: str = "auto") -> None:
        if mode not in REFERENCE_MODES:
            raise ValueError(f"reference: unknown mode {mode!r}; choose one of {REFERENCE_MODES}")
        self.mode = mode
        self._copy: torch.nn.Module | None = None

    def attach(self, policy: torch.nn.Module) -> None:
        """Prepare the reference for `policy` (idempotent)."""
        if self.mode == "auto":
            self.mode = "adapter_off" if _is_peft(policy) else "copy"
        if self.mode in ("adapter_off", "ref_adapter") and not _is_peft(policy):
            raise ValueError(f"reference mode {self.mode!r} needs a LoRA policy (set backbone.lora)")
        if self.mode == "ref_adapter" and REF_ADAPTER not in policy.peft_config:
            with trainable_flags_kept(policy):
                policy.add_adapter(REF_ADAPTER, copy.deepcopy(policy.peft_config[POLICY_ADAPTER]))
            self.sync(policy)
        if self.mode == "copy" and self._copy is None:
            self._copy = copy.deepcopy(policy).eval().requires_grad_(False)

    @torch.no_grad()
    def sync(self, policy: torch.nn.Module) -> None:
        """Make the reference equal to the current policy (ref adapter or copy); no-op for adapter_off."""
        if self.mode == "ref_adapter":
            params = dict(policy.named_parameters())
            for name, param in params.items():
                if f".{POLICY_ADAPTER}." in name or name.endswith(f".{POLICY_ADAPTER}"):
                    target = params[name.replace(f".{POLICY_ADAPTER}", f".{REF_ADAPTER}")]
                    target.copy_(param)
                    target.requires_grad_(False)
        elif self.mode == "copy":
            self._copy = copy.deepcopy(policy).eval().requires_grad_(False)
        elif self.mode == "adapter_off":
            raise ValueError("reference mode 'adapter_off' cannot be synced; use 'ref_adapter'")

    @contextmanager
    def model(self, policy: torch.nn.Module) -> Iterator[torch.nn.Module]:
        """Context in which the returned module computes the reference's outputs."""
        if self.mode == "copy":
            yield self._copy
            return
        with trainable_flags_kept(policy):
            if self.mode == "adapter_off":
                with policy.disable_adapter():
                    yield policy
            else:
                policy.set_adapter(REF_ADAPTER, inference_mode=True)
                try:
                    yield policy
                finally:
                    policy.set_adapter(POLICY_ADAPTER)

    @property
    def copy_model(self) -> torch.nn.Module | None:
        return self._copy

    def reference_parameters(self, policy: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
        if self.mode == "ref_adapter":
            return [(n, p) for n, p in policy.named_parameters() if f".{REF_ADAPTER}." in n]
        if self.mode == "copy":
            return list(self._copy.named_parameters())
        return []

    def identity(self, policy: torch.nn.Module, base: str) -> str:
        """A digest naming the reference's weights (for caches of reference log-probs)."""
        digest = hashlib.sha256(f"{self.mode}|{base}".encode())
        for name, param in self.reference_parameters(policy):
            digest.update(name.encode())
            digest.update(param.detach().float().cpu().numpy().tobytes())
        return digest.hexdigest()
