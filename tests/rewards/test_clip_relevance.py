"""R_I over a tiny random CLIPModel + processor built offline."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from lightning_csr.rewards.clip_relevance import ClipRelevance


@pytest.fixture(scope="module")
def clip_dir(tiny_clip_dir):
    return str(tiny_clip_dir)


def test_relevance_is_clamped_100_cosine(clip_dir) -> None:
    clip = ClipRelevance(clip_dir)
    image = Image.new("RGB", (24, 20), "red")
    texts = ["a red square", "blue", "a green circle", "xyz"]
    scores = clip(image, texts)
    with torch.no_grad():
        enc = clip.processor(text=texts, images=image, return_tensors="pt", padding=True)
        out = clip.model(**enc)
    cosine = torch.nn.functional.cosine_similarity(out.image_embeds, out.text_embeds)
    assert torch.allclose(scores, (100 * cosine).clamp_min(0), atol=1e-4)
    assert (scores >= 0).all()


def test_long_texts_are_truncated_to_the_clip_context(clip_dir) -> None:
    clip = ClipRelevance(clip_dir)
    assert clip.context_length == 16
    embedding = clip.embed_images([Image.new("RGB", (16, 16), "blue")])[0]
    long, prefix = "the blue shape " * 10, ("the blue shape " * 10)[:16]
    scores = clip.relevance(embedding, [long, prefix])
    assert scores[0] == pytest.approx(scores[1].item(), abs=1e-5)


def test_image_embedded_once_for_many_sentences(clip_dir) -> None:
    clip = ClipRelevance(clip_dir, batch_size=2)
    embeddings = clip.embed_images([Image.new("RGB", (16, 16), c) for c in ("red", "blue")])
    assert embeddings.shape == (2, 16)
    assert torch.allclose(embeddings.norm(dim=-1), torch.ones(2))
    texts = [f"shape {i}" for i in range(5)]
    batched = clip.relevance(embeddings[1], texts)
    assert torch.allclose(batched, torch.cat([clip.relevance(embeddings[1], [t]) for t in texts]), atol=1e-5)
    assert clip.relevance(embeddings[0], []).numel() == 0
