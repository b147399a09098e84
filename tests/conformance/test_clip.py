"""R_I with the real CLIP ViT-L/14-336 processor and tokenizer on a tiny CLIP of the same geometry."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from lightning_csr.rewards.clip_relevance import ClipRelevance


def test_clip_relevance_on_the_real_processor(real_clip_dir):
    clip = ClipRelevance(str(real_clip_dir))
    assert clip.context_length == 77
    image = Image.new("RGB", (640, 480), "red")
    pixels = clip.processor(images=[image], return_tensors="pt")["pixel_values"]
    assert pixels.shape[-2:] == (336, 336)
    texts = ["A red square.", "A blue circle on a table."]
    scores = clip(image, texts)
    with torch.no_grad():
        enc = clip.processor(text=texts, images=image, return_tensors="pt", padding=True)
        out = clip.model(**enc)
    cosine = torch.nn.functional.cosine_similarity(out.image_embeds, out.text_embeds)
    torch.testing.assert_close(scores, (100 * cosine).clamp_min(0), atol=1e-4, rtol=1e-4)


def test_sentences_longer_than_the_clip_context_are_truncated(real_clip_dir):
    clip = ClipRelevance(str(real_clip_dir))
    embedding = clip.embed_images([Image.new("RGB", (64, 48), "blue")])[0]
    long = "the blue shape sits next to a small red square " * 12  # far over 77 BPE tokens
    ids = clip.processor.tokenizer(long)["input_ids"]
    assert len(ids) > 77
    prefix = clip.processor.tokenizer.decode(ids[1:76])  # 75 tokens between start and end of text
    scores = clip.relevance(embedding, [long, prefix])
    assert scores[0] == pytest.approx(scores[1].item(), abs=1e-4)
