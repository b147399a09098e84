"""Composed backbone: any timm vision encoder + linear/MLP projector + any Hugging Face causal LM."""

from __future__ import annotations

from typing import Any

import torch

from lightning_csr.backbones.base import Backbone
from lightning_csr.backbones.composed_model import ComposedVLM, ComposedVLMConfig, encoder_output_shape
from lightning_csr.backbones.composed_processor import ComposedProcessor
from lightning_csr.backbones.settings import resolve_dtype


class ComposedBackbone(Backbone):
    """A VLM assembled from parts, saved and loaded as one directory (config JSON + safetensors + processor).

    Two ways in: `model_id` = a directory written by `ComposedVLM.save_pretrained` + `ComposedProcessor`
    (e.g. after a projector-alignment stage), or the parts by name: `vision_model` (timm, e.g.
    `vit_large_patch14_clip_336.openai`, `vit_so400m_patch14_siglip_384.webli`) and `language_model` (a causal
    LM, e.g. `Qwen/Qwen2.5-1.5B-Instruct`, `meta-llama/Llama-3.2-3B-Instruct`) with a freshly initialised
    projector (train it: `train_projector: true`). Only the LM is quantised; the prompt goes through the LM's
    own chat template with the image token inline, so any chat LM works.

    Args:
        vision_model: timm encoder name (parts mode).
        language_model: causal-LM checkpoint id or directory (parts mode; also the tokenizer's source).
        projector: `linear` or `mlp2x_gelu`.
        image_token: placeholder token, added to the tokenizer when missing.
        vision_kwargs: extra `timm.create_model` arguments.
        pretrained_vision: load the timm encoder's pretrained weights (parts mode).
        **kwargs: see `Backbone`.
    """

    family = "composed"
    language_model_pattern = r"language_model"
    vision_patterns = ("vision_tower",)
    projector_patterns = ("multi_modal_projector",)

    def __init__(
        self,
        model_id: str | None = None,
        *,
        vision_model: str | None = None,
        language_model: str | None = None,
        projector: str = "mlp2x_gelu",
        image_token: str = "<image>",
        vision_kwargs: dict[str, Any] | None = None,
        pretrained_vision: bool = True,
        **kwargs: Any,
    ) -> None:
        self.parts = vision_model is not None or language_model is not None
        if self.parts:
            if not (vision_model and language_model):
                raise ValueError(
                    "ComposedBackbone: parts mode needs both `vision_model` and `language_model`"
                )
            if model_id or kwargs.get("config"):
                raise ValueError("ComposedBackbone: give either `model_id`/`config` or the parts, not both")
            model_id = language_model  # the tokenizer's source; the model itself is assembled in `load_model`
        super().__init__(model_id=model_id, **kwargs)
        self.vision_model = vision_model
        self.language_model = language_model
        self.projector = projector
        self.image_token = image_token
        self.vision_kwargs = dict(vision_kwargs or {})
        self.pretrained_vision = pretrained_vision

    def model_class(self):
        return ComposedVLM

    # ------------------------------------------------------------------ loading
    def _encoder(self, pretrained: bool) -> torch.nn.Module:
        import timm

        return timm.create_model(
            self.vision_model, pretrained=pretrained, num_classes=0, **self.vision_kwargs
        )

    def load_processor(self) -> ComposedProcessor:
        if not self.parts:
            return ComposedProcessor.from_pretrained(self.processor_id, revision=self.revision)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.language_model, revision=self.revision)
        if self.image_token not in tokenizer.get_vocab():
            tokenizer.add_special_tokens({"additional_special_tokens": [self.image_token]})
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return ComposedProcessor.from_vision_model(
            self._encoder(pretrained=False), tokenizer, self.image_token
        )

    def load_model(self) -> torch.nn.Module:
        if not self.parts:
            return super().load_model()
        from transformers import AutoModelForCausalLM

        kwargs: dict[str, Any] = {"dtype": resolve_dtype(self.dtype), "revision": self.revision}
        if self.attn_implementation:
            kwargs["attn_implementation"] = self.attn_implementation
        bnb = self.quantization.to_bnb(["lm_head"])
        if bnb is not None:
            kwargs["quantization_config"] = bnb
            kwargs["device_map"] = {"": torch.cuda.current_device() if torch.cuda.is_available() else "cpu"}
        language_model = AutoModelForCausalLM.from_pretrained(self.language_model, **kwargs)
        if len(self.tokenizer) > language_model.get_input_embeddings().num_embeddings:
            language_model.resize_token_embeddings(len(self.tokenizer))
        encoder = self._encoder(pretrained=self.pretrained_vision)
        return ComposedVLM.from_parts(
            encoder,
            language_model,
            self.projector,
            self.image_token_id,
            self.vision_model,
            self.vision_kwargs,
        )

    # ------------------------------------------------------------------ batches
    def prompt_messages(self, prompt: str) -> list[dict[str, Any]]:
        """Plain-string content with the image token inline: works with any text LM's chat template."""
        return [{"role": "user", "content": f"{self.processor.image_token}\n{prompt}"}]

    def expected_image_tokens(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        return torch.full((batch["input_ids"].shape[0],), self.processor.num_image_tokens, dtype=torch.long)

    def describe(self) -> str:
        if self.parts:
            return f"{self.family}:{self.vision_model}+{self.language_model}:{self.projector}"
        return super().describe()


__all__ = [
    "ComposedBackbone",
    "ComposedProcessor",
    "ComposedVLM",
    "ComposedVLMConfig",
    "encoder_output_shape",
]
