"""LLaVA-NeXT / LLaVA-1.6 (`LlavaNextForConditionalGeneration`): anyres tiles, `image_sizes` side input."""

from __future__ import annotations

import torch

from lightning_csr.backbones.base import Backbone


class LlavaNextBackbone(Backbone):
    """LLaVA-NeXT: CLIP tower on an anyres grid of tiles + MLP projector + an `image_newline` row separator.

    For `llava-hf/llava-v1.6-mistral-7b-hf`, `llava-hf/llava-v1.6-vicuna-7b-hf` and `llava-hf/llava-v1.6-34b-hf`.
    The image-token count depends on each image's original size, so the processor's `image_sizes` travels
    with the batch (the model needs it to unpad the tile features).
    """

    family = "llava_next"
    model_class_name = "LlavaNextForConditionalGeneration"
    projector_patterns = ("multi_modal_projector", "image_newline")

    def expected_image_tokens(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        sizes = batch.get("image_sizes")
        count = getattr(self.processor, "_get_num_multimodal_tokens", None)
        if sizes is None or count is None:
            return None
        tokens = count(image_sizes=sizes.tolist())["num_image_tokens"]
        return torch.tensor(tokens, dtype=torch.long)
