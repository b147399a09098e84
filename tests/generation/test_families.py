"""Families with their own positions and masks (Qwen2-VL mrope, PaliGemma prefix-LM): the cached search's
greedy tokens equal `model.generate`'s."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from lightning_csr.backbones import backbone_class
from lightning_csr.generation import SearchSettings, sentence_search
from lightning_csr.generation.search import vocab_size
from lightning_csr.generation.tokens import TokenSets, build_token_sets
from lightning_csr.rewards.calibrated import RewardSettings

tiny_families = pytest.importorskip("tests.tiny_families")


@pytest.mark.parametrize("family", ["qwen2_vl", "paligemma"])
def test_greedy_sentence_equals_generate(family, tmp_path) -> None:
    directory = getattr(tiny_families, f"tiny_{family}")(tmp_path)
    backbone = backbone_class(family)(model_id=str(directory))
    model = backbone.load_model().eval()
    images = [Image.new("RGB", (16, 16), c) for c in ("red", "blue")]
    prompts = ["What?", "Describe the image in detail."]
    size, length = vocab_size(model), 12
    base = build_token_sets(backbone, size, (".",), model)
    no_stops = TokenSets(torch.zeros(size, dtype=torch.bool), base.end_of_turn, base.suppressed)
    config = SearchSettings.code(
        num_candidates=1, max_sentence_tokens=length, max_sentences=1, max_new_tokens=length
    )
    trees = sentence_search(
        model, backbone, images, prompts, config, reward=RewardSettings.code(), token_sets=no_stops
    )
    batch = backbone.prompt_batch(images, prompts)
    out = model.generate(
        **batch,
        do_sample=False,
        max_new_tokens=length,
        suppress_tokens=base.suppressed.nonzero().flatten().tolist(),
        eos_token_id=base.end_of_turn.nonzero().flatten().tolist(),
        pad_token_id=backbone.tokenizer.pad_token_id,
    )
    for tree, generated in zip(trees, out[:, batch["input_ids"].shape[1] :].tolist(), strict=True):
        ours = tree.nodes[1].token_ids
        assert len(ours) > 1 and generated[: len(ours)] == ours
