"""R_I, the image-response relevance of a sentence: max(100 * cos(CLIP image, CLIP text), 0).

The factor is the paper's fixed 100, not the checkpoint's learned `logit_scale` (which is also 100 for the
OpenAI CLIPs, so the released code's `logits_per_image` gives the same number there). Texts longer than the
CLIP's context are truncated to it (the released code did not, and crashed on long sentences).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image


def _features(output) -> torch.Tensor:
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class ClipRelevance:
    """Scores sentences against images with any Hugging Face `CLIPModel` and its processor.

    Embed each image once with `embed_images`, then score all sentences of a tree in one call to `relevance`.
    """

    def __init__(
        self, model_id_or_dir: str, device: str | torch.device | None = None, batch_size: int = 256
    ) -> None:
        from transformers import CLIPModel, CLIPProcessor

        self.model = CLIPModel.from_pretrained(model_id_or_dir).eval()
        self.processor = CLIPProcessor.from_pretrained(model_id_or_dir)
        if device is not None:
            self.model.to(device)
        self.batch_size = batch_size
        self.context_length = int(self.model.config.text_config.max_position_embeddings)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.inference_mode()
    def embed_images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Unit-norm image embeddings [N, D]."""
        pixels = self.processor(images=[img.convert("RGB") for img in images], return_tensors="pt")[
            "pixel_values"
        ]
        features = _features(self.model.get_image_features(pixel_values=pixels.to(self.device)))
        return torch.nn.functional.normalize(features.float(), dim=-1)

    @torch.inference_mode()
    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Unit-norm text embeddings [M, D]; each text truncated to the CLIP's context length."""
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            enc = self.processor.tokenizer(
                list(texts[start : start + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=self.context_length,
                return_tensors="pt",
            ).to(self.device)
            features = _features(self.model.get_text_features(**enc))
            chunks.append(torch.nn.functional.normalize(features.float(), dim=-1))
        if not chunks:
            return torch.zeros(0, self.model.config.projection_dim, device=self.device)
        return torch.cat(chunks)

    def relevance(self, image_embedding: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        """R_I = max(100 * cos, 0) of each text against one embedded image: [M] on the CPU."""
        if not texts:
            return torch.zeros(0)
        cosine = self.embed_texts(texts) @ image_embedding.to(self.device).float().reshape(-1)
        return (100.0 * cosine).clamp_min(0.0).cpu()

    def __call__(self, image: Image.Image, texts: Sequence[str]) -> torch.Tensor:
        """R_I of each text against one image."""
        return self.relevance(self.embed_images([image])[0], texts)
