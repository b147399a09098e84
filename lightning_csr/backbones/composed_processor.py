"""`ComposedProcessor`: a timm image transform paired with a tokenizer; expands the image token."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from transformers import AutoTokenizer, BatchFeature

PROCESSOR_FILE = "composed_processor.json"


class ComposedProcessor:
    """Turns (images, texts) into `input_ids`, `attention_mask`, `pixel_values` for a `ComposedVLM`.

    Each `image_token` in a text becomes `num_image_tokens` copies, one per image feature.

    Args:
        tokenizer: the language model's tokenizer (holds the chat template).
        data_config: timm data config (`input_size`, `mean`, `std`, `interpolation`, `crop_pct`).
        num_image_tokens: features the encoder gives per image.
        image_token: the placeholder string (a special token of the tokenizer).
    """

    def __init__(
        self, tokenizer, data_config: dict[str, Any], num_image_tokens: int, image_token: str = "<image>"
    ):
        from timm.data import create_transform

        if tokenizer.convert_tokens_to_ids(image_token) in (None, tokenizer.unk_token_id):
            raise ValueError(f"ComposedProcessor: the tokenizer has no token {image_token!r}; add it first")
        self.tokenizer = tokenizer
        self.data_config = dict(data_config)
        self.num_image_tokens = num_image_tokens
        self.image_token = image_token
        self.transform = create_transform(**self.data_config, is_training=False)

    @classmethod
    def from_vision_model(
        cls, encoder: torch.nn.Module, tokenizer, image_token: str = "<image>"
    ) -> ComposedProcessor:
        """Processor for a timm encoder: its own data config and feature count."""
        from lightning_csr.backbones.composed_model import encoder_data_config, encoder_output_shape

        return cls(tokenizer, encoder_data_config(encoder), encoder_output_shape(encoder)[0], image_token)

    @property
    def chat_template(self) -> str | None:
        return self.tokenizer.chat_template

    def apply_chat_template(
        self, messages: list[dict[str, Any]], add_generation_prompt: bool = False, **kwargs
    ):
        """The tokenizer's chat template as text; content lists keep `{"type": "image"}` entries for it."""
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=add_generation_prompt, tokenize=False, **kwargs
        )

    def __call__(
        self,
        images: Sequence[Image.Image] | None = None,
        text: str | Sequence[str] | None = None,
        return_tensors: str | None = "pt",
        padding: bool | str = True,
        **kwargs: Any,
    ) -> BatchFeature:
        texts = [text] if isinstance(text, str) else list(text or [])
        images = list(images or [])
        placeholders = sum(t.count(self.image_token) for t in texts)
        if texts and placeholders != len(images):
            raise ValueError(
                f"ComposedProcessor: {placeholders} image tokens in the texts for {len(images)} images"
            )
        data: dict[str, Any] = {}
        if texts:
            expanded = [t.replace(self.image_token, self.image_token * self.num_image_tokens) for t in texts]
            data.update(self.tokenizer(expanded, padding=padding, add_special_tokens=False, **kwargs))
        if images:
            data["pixel_values"] = torch.stack([self.transform(img.convert("RGB")) for img in images])
        return BatchFeature(data=data, tensor_type=return_tensors)

    def batch_decode(self, *args: Any, **kwargs: Any) -> list[str]:
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args: Any, **kwargs: Any) -> str:
        return self.tokenizer.decode(*args, **kwargs)

    def save_pretrained(self, directory: str | Path, **kwargs: Any) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(directory)
        spec = {
            "data_config": self.data_config,
            "num_image_tokens": self.num_image_tokens,
            "image_token": self.image_token,
        }
        (directory / PROCESSOR_FILE).write_text(json.dumps(spec, indent=2))

    @classmethod
    def from_pretrained(cls, directory: str | Path, **kwargs: Any) -> ComposedProcessor:
        spec_file = Path(directory) / PROCESSOR_FILE
        if not spec_file.is_file():
            raise FileNotFoundError(f"ComposedProcessor: {spec_file} not found (save a composed model first)")
        spec = json.loads(spec_file.read_text())
        return cls(AutoTokenizer.from_pretrained(directory, **kwargs), **spec)
