"""A tiny random LLaVA (char-level tokenizer) shared by the generation tests."""

from __future__ import annotations

import pytest
from PIL import Image

from lightning_csr.backbones.llava import LlavaBackbone
from tests.tiny_models import tiny_llava


@pytest.fixture(scope="session")
def llava(tmp_path_factory):
    """(model, backbone) of a tiny random LLaVA in eval mode."""
    directory = tiny_llava(tmp_path_factory.mktemp("tiny_llava"))
    backbone = LlavaBackbone(model_id=str(directory))
    return backbone.load_model().eval(), backbone


@pytest.fixture(scope="session")
def images():
    return [Image.new("RGB", (16, 16), color) for color in ("red", "blue", "green")]


PROMPTS = ["What is this?", "Describe the image in detail.", "Count the shapes."]


class LengthScorer:
    """A deterministic stand-in for CLIP: R_I = number of characters of the sentence, plus the image index."""

    def __init__(self) -> None:
        self.calls = 0

    def embed_images(self, images):
        import torch

        return torch.arange(len(images), dtype=torch.float)[:, None]

    def relevance(self, image_embedding, texts):
        import torch

        self.calls += 1
        return torch.tensor([float(len(t)) + float(image_embedding[0]) for t in texts])
