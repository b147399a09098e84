"""`SFTModule`: supervised fine-tuning, mean negative log-likelihood over completion tokens."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable

from lightning_csr.backbones.base import Backbone
from lightning_csr.modules.base import PolicyModule, default_optimizer
from lightning_csr.modules.components.schedules import SchedulerCallable, WarmupCosine


class SFTModule(PolicyModule):
    """Token-level cross-entropy on responses (prompt and image tokens masked); no reference model.

    Args:
        backbone: the VLM adapter (built from a config for from-scratch models, or a checkpoint).
        vision_init: a saved `CLIPModel` directory whose vision transformer initialises the policy's vision
            tower (as LLaVA starts from a pretrained CLIP); the configs must match.
        optimizer: optimiser factory over the trainable parameters.
        scheduler: learning-rate schedule factory (gets the total step count).
    """

    def __init__(
        self,
        backbone: Backbone,
        vision_init: str | None = None,
        optimizer: OptimizerCallable = default_optimizer,
        scheduler: SchedulerCallable = WarmupCosine,
    ) -> None:
        super().__init__(backbone, None, optimizer, scheduler)
        self.vision_init = vision_init

    def build_parts(self) -> None:
        if self.vision_init is not None:
            load_clip_vision(self.policy, self.vision_init)

    def model_step(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        """Mean NLL per completion token over the batch."""
        out = self.forward_logps(self.policy, batch)
        loss = -out["logps"].sum() / out["counts"].sum().clamp(min=1)
        self.check_finite(loss, batch)
        self.log_step(loss, {}, stage, len(batch["ids"]))
        return loss


def load_clip_vision(model: torch.nn.Module, clip_dir: str) -> None:
    """Copy a saved CLIPModel's (or CLIPVisionModel's) vision transformer into the model's vision tower."""
    from transformers import AutoConfig, CLIPModel, CLIPVisionModel

    towers = [m for name, m in model.named_modules() if name.endswith("vision_tower")]
    if not towers:
        raise ValueError("vision_init: the model has no `vision_tower` to initialise")
    target = getattr(towers[0], "vision_model", towers[0])
    if AutoConfig.from_pretrained(clip_dir).model_type == "clip_vision_model":
        source = CLIPVisionModel.from_pretrained(clip_dir).state_dict()
    else:
        source = CLIPModel.from_pretrained(clip_dir).vision_model.state_dict()
    try:
        target.load_state_dict(source)
    except RuntimeError as err:
        raise ValueError(f"vision_init: {clip_dir} does not match the vision tower config: {err}") from err
