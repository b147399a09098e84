"""Idefics3 and SmolVLM: image splitting into tiles, `pixel_attention_mask`, `<end_of_utterance>` turns."""

from __future__ import annotations

from typing import Any

import torch

from lightning_csr.backbones import batches
from lightning_csr.backbones.base import Backbone

END_OF_UTTERANCE = "<end_of_utterance>"


class Idefics3Backbone(Backbone):
    """Idefics3 / SmolVLM: SigLIP tower on image tiles, pixel-shuffle connector, Llama/SmolLM text model.

    For `HuggingFaceTB/SmolVLM-256M-Instruct`, `HuggingFaceTB/SmolVLM-500M-Instruct`,
    `HuggingFaceTB/SmolVLM-Instruct` and `HuggingFaceM4/Idefics3-8B-Llama3` (all `Idefics3ForConditionalGeneration`).
    Each image becomes a grid of tiles plus a global view, each tile `image_seq_len` image tokens; the batch carries
    `pixel_values` [B, tiles, 3, H, W] and `pixel_attention_mask`. `do_image_splitting=False` keeps one tile per
    image (far fewer tokens: what TRL's VLM DPO example does on small GPUs); None keeps the checkpoint's setting.

    Args:
        do_image_splitting: override the image processor's tiling.
        **kwargs: see `Backbone`.
    """

    family = "idefics3"
    model_class_name = "Idefics3ForConditionalGeneration"
    language_model_pattern = r"text_model"
    vision_patterns = ("vision_model",)
    projector_patterns = ("connector",)
    token_level_inputs = {"mm_token_type_ids": 0}

    def __init__(
        self, model_id: str | None = None, *, do_image_splitting: bool | None = None, **kwargs: Any
    ) -> None:
        super().__init__(model_id=model_id, **kwargs)
        self.do_image_splitting = do_image_splitting

    def load_processor(self):
        processor = super().load_processor()
        if self.do_image_splitting is not None:
            processor.image_processor.do_image_splitting = self.do_image_splitting
        return processor

    def response_text_ids(self, response: str) -> list[int]:
        """As the template writes it: SmolVLM's prompt ends `Assistant:` and the answer follows a space."""
        return batches.templated_response_ids(self, response)

    @property
    def end_of_turn_id(self) -> int:
        return self.tokenizer.convert_tokens_to_ids(END_OF_UTTERANCE)

    def expected_image_tokens(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        pixels = batch.get("pixel_values")
        if pixels is None or pixels.ndim != 5:
            return None
        # padding tiles are all zeros (the model drops them the same way)
        real_tiles = (pixels != 0).flatten(2).any(dim=2).sum(dim=1)
        return real_tiles * self.processor.image_seq_len
