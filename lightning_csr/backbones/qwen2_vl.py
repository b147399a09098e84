"""Qwen2-VL and Qwen2.5-VL: flattened patch `pixel_values`, `image_grid_thw`, mrope positions."""

from __future__ import annotations

from typing import Any

import torch

from lightning_csr.backbones.base import Backbone

IM_END = "<|im_end|>"


class Qwen2VLBackbone(Backbone):
    """Qwen2-VL / Qwen2.5-VL: native-resolution ViT whose `merger` projects 2x2 patch groups into the LM.

    For `Qwen/Qwen2-VL-2B-Instruct`, `Qwen/Qwen2-VL-7B-Instruct`, `Qwen/Qwen2.5-VL-3B-Instruct` and
    `Qwen/Qwen2.5-VL-7B-Instruct` (the model class comes from the checkpoint's config). `pixel_values` are
    flattened patches of all images of the batch, `image_grid_thw` says how many belong to each image, and the
    model derives its 3-D (mrope) positions from `input_ids`, `image_grid_thw` and the attention mask, so
    right padding is safe. `mm_token_type_ids` is carried when the processor emits it (0 on the response).
    The turn ends with `<|im_end|>`.

    Args:
        min_pixels: smallest image area after resizing (the processor's `size.shortest_edge`).
        max_pixels: largest image area after resizing: caps image tokens at `max_pixels / 28**2`
            (e.g. `401408` = 512 tokens, what fits DPO of the 2B/3B models on a 24 GB GPU).
        **kwargs: see `Backbone`.
    """

    family = "qwen2_vl"
    language_model_pattern = r"language_model"
    vision_patterns = ("visual",)
    projector_patterns = ("merger",)
    token_level_inputs = {"mm_token_type_ids": 0}

    def __init__(
        self,
        model_id: str | None = None,
        *,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_id=model_id, **kwargs)
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels

    def model_class(self):
        """AutoModelForImageTextToText (Qwen2-VL or Qwen2.5-VL from the checkpoint); the concrete class for a config."""
        auto = super().model_class()
        if self.config is not None and self.model_id is None:  # a bare config is built by the concrete class
            return auto._model_mapping[type(self._build_config())]
        return auto

    def load_processor(self):
        processor = super().load_processor()
        size = dict(processor.image_processor.size)
        if self.min_pixels is not None:
            size["shortest_edge"] = self.min_pixels
        if self.max_pixels is not None:
            size["longest_edge"] = self.max_pixels
        processor.image_processor.size = size
        return processor

    def is_frozen(self, name: str) -> bool:
        # the merger (projector) lives inside `visual`, so decide on it before the vision tower
        if any(p in name for p in self.projector_patterns):
            return not self.train_projector
        return super().is_frozen(name)

    def unquantized_modules(self) -> list[str]:
        return [r".*visual", "lm_head"]

    @property
    def end_of_turn_id(self) -> int:
        return self.tokenizer.convert_tokens_to_ids(IM_END)

    def expected_image_tokens(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        grid = batch.get("image_grid_thw")
        if grid is None or grid.shape[0] != batch["input_ids"].shape[0]:
            return None  # several images per row: the model's own check decides
        merge = self.processor.image_processor.merge_size
        return grid.prod(dim=-1) // (merge * merge)
