"""`PolicyModule`: the LightningModule core shared by every method (policy, reference, step, optimisation)."""

from __future__ import annotations

import copy
import math
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import OptimizerCallable

from lightning_csr.backbones.base import Backbone
from lightning_csr.backbones.policy import build_policy
from lightning_csr.errors import non_finite_loss
from lightning_csr.modules.components.logprobs import completion_logprobs, model_logits
from lightning_csr.modules.components.reference import REF_ADAPTER, Reference
from lightning_csr.modules.components.schedules import SchedulerCallable, WarmupCosine
from lightning_csr.modules.components.strategy_check import check_strategy


def default_optimizer(params) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=5e-6, weight_decay=0.0)


class PolicyModule(L.LightningModule):
    """Holds the policy (backbone + LoRA/QLoRA), its reference, and the optimiser/scheduler factories.

    Subclasses write `model_step(batch, stage)`, the loss of one batch with its metrics logged; training,
    validation and test all run it. The model is built in `configure_model()` (idempotent) so 4-bit loading
    happens on the right device; `build_parts` adds what a module holds beside the policy. Checkpoints hold
    only `checkpoint_keys()` (what training changes, plus the frozen reference).

    Args:
        reference: `auto`, `adapter_off`, `ref_adapter` or `copy` (see `Reference`); None for no reference.
    """

    def __init__(
        self,
        backbone: Backbone,
        reference: str | None = "auto",
        optimizer: OptimizerCallable = default_optimizer,
        scheduler: SchedulerCallable = WarmupCosine,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.reference = Reference(reference) if reference is not None else None
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.policy: torch.nn.Module | None = None
        self.strict_loading = False
        self.optimizer_phase: int | None = None  # the phase the current optimizer and schedule belong to
        self.phase_steps: int | None = None

    # ------------------------------------------------------------- model
    def configure_model(self) -> None:
        """Build the policy, the module's own parts, then the reference, once."""
        if self.policy is not None:
            return
        self.policy = build_policy(self.backbone)
        self.build_parts()
        if self.reference is not None:
            self.reference.attach(self.policy)
            self._register_reference()

    def build_parts(self) -> None:
        """Build what the module holds beside the policy (heads, extra adapters, initial weights)."""

    def _register_reference(self) -> None:
        """Keep a frozen reference copy as a submodule so Lightning moves it with the policy."""
        if self.reference.mode == "copy":
            self.reference_copy = self.reference.copy_model

    def sync_reference(self) -> None:
        """Make the reference equal to the current policy (iterative methods)."""
        if self.reference is None:
            raise ValueError(f"{type(self).__name__} has no reference to sync")
        self.reference.sync(self.policy)
        self._register_reference()

    def setup(self, stage: str) -> None:
        if self._trainer is not None:  # before `configure_model` loads any weight
            check_strategy(self.trainer.strategy, self.backbone)
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if datamodule is not None and hasattr(datamodule, "connect"):
            datamodule.connect(self.backbone)

    def image_features(self, model: torch.nn.Module, batch: dict[str, Any]):
        """Encoder outputs of each pair's image computed once and repeated for chosen and rejected (or None).

        The concatenated batch holds every image twice; encoding it once halves the vision tower's work,
        and the same features serve the reference when encoder and projector are frozen.
        """
        if not self.backbone.shares_image_features or "ids" not in batch:
            return None
        rows = len(batch["ids"])
        if batch["input_ids"].shape[0] != 2 * rows:
            return None
        encoded = model.get_image_features(**self.backbone.image_inputs(batch, rows), return_dict=True)
        features = list(encoded.pooler_output)
        encoded.pooler_output = features + features
        return encoded

    def forward_logps(
        self, model: torch.nn.Module, batch: dict[str, Any], image_features=None
    ) -> dict[str, torch.Tensor]:
        """Summed completion log-probs, token counts and mean NLL per sequence, from raw logits."""
        inputs = self.backbone.model_inputs(batch)
        if image_features is not None:
            for key in self.backbone.image_input_keys:
                inputs.pop(key, None)
            inputs["mm_encoder_outputs"] = {"image": image_features}
        logits = model_logits(model, inputs, batch)
        logps, counts = completion_logprobs(logits, batch["input_ids"], batch["completion_mask"])
        return {"logps": logps, "counts": counts, "nll": -logps / counts.clamp(min=1)}

    @torch.no_grad()
    def reference_logps(self, batch: dict[str, Any], image_features=None) -> torch.Tensor:
        """Summed completion log-probs under the reference model (optionally reusing the policy's features)."""
        if image_features is not None and self.backbone.image_features_reusable():
            image_features = copy.copy(image_features)
            image_features.pooler_output = [f.detach() for f in image_features.pooler_output]
        else:
            image_features = None
        with self.reference.model(self.policy) as ref:
            return self.forward_logps(ref, batch, image_features)["logps"]

    # ------------------------------------------------------------ steps
    def model_step(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        """The loss of one batch, its metrics logged under `stage` (`train`, `val` or `test`)."""
        raise NotImplementedError

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self.model_step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self.model_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self.model_step(batch, "test")

    def log_step(
        self, loss: torch.Tensor, metrics: dict[str, torch.Tensor], stage: str, batch_size: int
    ) -> None:
        """Log `<stage>/loss` and the metrics (TRL names in training, `<stage>/`-prefixed otherwise)."""
        prefix = "" if stage == "train" else f"{stage}/"
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=batch_size)
        self.log_dict({prefix + k: v for k, v in metrics.items()}, batch_size=batch_size)

    def check_finite(self, loss: torch.Tensor, batch: dict[str, Any]) -> None:
        if not torch.isfinite(loss):
            raise non_finite_loss(loss.item(), f"global step {self.global_step}", batch.get("ids"))

    # ------------------------------------------------------- optimisation
    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """What the optimizer updates: the policy's parameters that require grad."""
        return [p for p in self.policy.parameters() if p.requires_grad]

    def configure_optimizers(self):
        params = self.trainable_parameters()
        if not params:
            raise ValueError("no trainable parameters: check backbone.lora / train_projector")
        optimizer = self.optimizer_factory(params)
        total = self.phase_steps if self.phase_steps is not None else self.total_training_steps()
        scheduler = self.scheduler_factory(optimizer, total)
        if not self.automatic_optimization:  # stepped by the module itself
            return {"optimizer": optimizer, "lr_scheduler": scheduler}
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def total_training_steps(self) -> int:
        return max(int(self.trainer.estimated_stepping_batches), 1)

    def schedule_phase(self, epoch: int) -> int | None:
        """The optimisation phase of an epoch: each phase starts a fresh optimizer and schedule sized to it.

        None (the default) means one optimizer and schedule for the whole run, built at the start.
        """
        return None

    def phase_epochs(self, phase: int) -> int:
        """Epochs in a phase (only asked when `schedule_phase` returns phases)."""
        raise NotImplementedError

    def on_train_epoch_start(self) -> None:
        """Start a fresh optimizer and schedule when this epoch opens a phase the optimizer is not on yet.

        A resumed run restores `optimizer_phase` with the optimizer, so a phase is never restarted twice; the
        step count is measured on the epoch's own dataloader (e.g. the pairs this iteration really kept).
        """
        phase = self.schedule_phase(self.current_epoch)
        if phase is None or phase == self.optimizer_phase:
            return
        trainer = self.trainer
        per_epoch = math.ceil(trainer.num_training_batches / trainer.accumulate_grad_batches)
        steps = per_epoch * self.phase_epochs(phase)
        if trainer.max_steps is not None and trainer.max_steps > 0:
            steps = min(steps, trainer.max_steps - self.global_step)
        self.phase_steps = max(int(steps), 1)
        trainer.strategy.setup_optimizers(trainer)
        self.optimizer_phase = phase

    # ---------------------------------------------------------- checkpoints
    def checkpoint_keys(self) -> set[str]:
        """State-dict keys a checkpoint keeps: trainable parameters, the frozen `ref` adapter and the frozen
        reference copy (whole, as a synced copy differs from the initial model everywhere)."""
        frozen_ref = f".{REF_ADAPTER}."
        keys = {name for name, param in self.named_parameters() if param.requires_grad or frozen_ref in name}
        if self.reference is not None and self.reference.mode == "copy":
            keys |= {f"reference_copy.{name}" for name in self.reference.copy_model.state_dict()}
        return keys

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        keep = self.checkpoint_keys()
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keep}
        checkpoint["optimizer_phase"] = self.optimizer_phase

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.configure_model()
        self.optimizer_phase = checkpoint.get("optimizer_phase")
