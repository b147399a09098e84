"""LLaVA-1.5 (`LlavaForConditionalGeneration`, e.g. llava-hf/llava-1.5-7b-hf) and ShapeWorld's tiny LLaVA."""

from __future__ import annotations

import torch

from lightning_csr.backbones.base import Backbone


class LlavaBackbone(Backbone):
    """LLaVA-1.5: CLIP vision tower + MLP projector + Llama/Vicuna; a fixed number of image tokens per image."""

    family = "llava"
    model_class_name = "LlavaForConditionalGeneration"
    shares_image_features = True

    def expected_image_tokens(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        processor = self.processor
        patch = getattr(processor, "patch_size", None)
        pixels = batch.get("pixel_values")
        if patch is None or pixels is None:
            return None
        height, width = pixels.shape[-2:]
        per_image = (height // patch) * (width // patch) + getattr(
            processor, "num_additional_image_tokens", 0
        )
        if getattr(processor, "vision_feature_select_strategy", "default") == "default":
            per_image -= 1
        return torch.full((batch["input_ids"].shape[0],), per_image, dtype=torch.long)
