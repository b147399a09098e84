"""The tiny CLIP: processor and model round-trip through from_pretrained, training moves the loss, AUC wiring."""

from __future__ import annotations

import random
from pathlib import Path

import torch
import yaml
from transformers import AutoProcessor, CLIPModel

from lightning_csr.shapeworld import Scene, WorldSettings, render_scene
from lightning_csr.shapeworld.build.settings import tiny_settings
from lightning_csr.shapeworld.models.clip import (
    CLIPSettings,
    CLIPTrainingSettings,
    build_clip_processor,
    clip_auc,
    clip_config,
    contrastive_loss,
    object_sentence,
    save_clip,
    train_clip,
)
from tests.paths import REPO

ROOT = REPO
TINY = tiny_settings().clip_model


def test_clip_roundtrip_train_and_auc(
    processor, world: WorldSettings, scenes: list[Scene], tmp_path: Path
) -> None:
    clip_processor = build_clip_processor(processor.tokenizer, world, tmp_path / "proc")
    tokenizer = clip_processor.tokenizer
    ids = tokenizer(["There is a large red star in the image."])["input_ids"][0]
    assert ids[-1] == tokenizer.eos_token_id == len(tokenizer) - 1 and tokenizer.unk_token_id not in ids
    rng = random.Random(0)
    for scene in scenes[:10]:
        sentence = object_sentence(scene.objects[0], rng)
        assert tokenizer.unk_token_id not in tokenizer(sentence)["input_ids"], sentence
    torch.manual_seed(0)
    model = CLIPModel(clip_config(clip_processor, world, TINY))
    images = [render_scene(s, world) for s in scenes[:16]]
    info = train_clip(
        model, clip_processor, scenes[:16], images, CLIPTrainingSettings(max_steps=3, batch_size=8)
    )
    assert info["final_loss"] == info["final_loss"]  # finite
    save_clip(model, clip_processor, tmp_path / "clip", info)
    loaded = CLIPModel.from_pretrained(str(tmp_path / "clip")).eval()
    loaded_processor = AutoProcessor.from_pretrained(str(tmp_path / "clip"))
    inputs = loaded_processor(
        text=["There is a star in the image."], images=images[:2], return_tensors="pt", padding=True
    )
    with torch.no_grad():
        assert torch.allclose(
            loaded(**inputs).logits_per_image, model.eval()(**inputs).logits_per_image, atol=1e-5
        )
    result = clip_auc(loaded, loaded_processor, world, scenes[:8], images[:8])
    assert 0.0 <= result["auc"] <= 1.0 and result["n_pairs"] == 8 * len(world.shapes)


def test_contrastive_loss_prefers_matching_pairs() -> None:
    targets = torch.eye(3)
    assert contrastive_loss(10 * torch.eye(3), targets) < contrastive_loss(torch.zeros(3, 3), targets)
    multi = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    assert torch.isfinite(contrastive_loss(torch.randn(2, 2), multi))


def test_clip_yaml_matches_defaults() -> None:
    config = yaml.safe_load((ROOT / "configs" / "shapeworld" / "clip.yaml").read_text())
    assert CLIPSettings(**config["model"]) == CLIPSettings()
    assert CLIPTrainingSettings(**config["training"]) == CLIPTrainingSettings()
