"""PaliGemma: no chat template, `token_type_ids` (0 prefix, 1 suffix) drive prefix-LM attention."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from lightning_csr.backbones.base import Backbone


class PaliGemmaBackbone(Backbone):
    """PaliGemma: SigLIP tower + linear projector + Gemma, trained as a prefix LM (image + prompt see each other).

    For `google/paligemma-3b-mix-224`, `google/paligemma-3b-pt-224` and `google/paligemma2-3b-mix-224`.
    The prompt is the processor's own format, not a chat template: `<image>` tokens, `<bos>`, the task prefix
    (e.g. `answer en What is ...` for the mix checkpoints) and a newline; the response is the suffix followed by
    `<eos>`. `token_type_ids` are 0 on the prefix and 1 on the suffix, so the model attends bidirectionally over
    the prefix and causally over the response.

    Args:
        prompt_prefix: text put before every prompt, e.g. `"answer en "` for the mix checkpoints' VQA task.
        **kwargs: see `Backbone`.
    """

    family = "paligemma"
    model_class_name = "PaliGemmaForConditionalGeneration"
    token_level_inputs = {"token_type_ids": 1}

    def __init__(self, model_id: str | None = None, *, prompt_prefix: str = "", **kwargs: Any) -> None:
        super().__init__(model_id=model_id, **kwargs)
        self.prompt_prefix = prompt_prefix

    def prompt_text(self, prompt: str) -> str:
        """Image placeholder + prefix + prompt; the processor adds `<bos>` after the image tokens and a newline."""
        return self.processor.image_token + self.prompt_prefix + prompt

    def prompt_batch(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> dict[str, torch.Tensor]:
        batch = super().prompt_batch(images, prompts)
        batch.pop("labels", None)  # the processor's own labels; we build the completion mask ourselves
        return batch

    def expected_image_tokens(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        per_image = self.processor.image_seq_length
        return torch.full((batch["input_ids"].shape[0],), per_image, dtype=torch.long)
