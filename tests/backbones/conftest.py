"""Shared helpers for backbone tests: tiny preference data on disk, parameter snapshots, a short DPO fit."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from PIL import Image

from lightning_csr.backbones.base import Backbone
from lightning_csr.data.datamodule import PreferenceDataModule
from lightning_csr.modules.preference import PreferenceModule
from tests.trainer import quiet_trainer

PAIRS = [
    ("What is it?", "a red square", "a blue circle"),
    ("Describe it.", "one square", "two circles and a cat"),
    ("Colour?", "red", "green"),
    ("How many?", "one", "three"),
]


def make_images(n: int, size: tuple[int, int] = (16, 16), seed: int = 0) -> list[Image.Image]:
    generator = torch.Generator().manual_seed(seed)
    return [
        Image.fromarray(
            torch.randint(0, 255, (size[1], size[0], 3), generator=generator, dtype=torch.uint8).numpy()
        )
        for _ in range(n)
    ]


@pytest.fixture(scope="session")
def pairs_dir(tmp_path_factory) -> Path:
    """Four preference records with 16x16 images, in our JSONL format."""
    root = tmp_path_factory.mktemp("pairs")
    (root / "images").mkdir()
    lines = []
    for i, (image, (prompt, chosen, rejected)) in enumerate(zip(make_images(len(PAIRS)), PAIRS, strict=True)):
        image.save(root / f"images/{i}.png")
        record = {
            "id": f"r{i}",
            "image": f"images/{i}.png",
            "prompt": prompt,
            "chosen": chosen,
            "rejected": rejected,
        }
        lines.append(json.dumps(record) + "\n")
    (root / "pairs.jsonl").write_text("".join(lines))
    return root


def snapshot(model: torch.nn.Module) -> dict[str, tuple[bool, torch.Tensor]]:
    return {n: (p.requires_grad, p.detach().clone()) for n, p in model.named_parameters()}


def changed_parameters(
    before: dict[str, tuple[bool, torch.Tensor]], model: torch.nn.Module
) -> dict[str, bool]:
    return {n: not torch.equal(before[n][1], p.detach()) for n, p in model.named_parameters()}


def fit(module: PreferenceModule, data_dir: Path, max_steps: int = 3, batch_size: int = 2) -> L.Trainer:
    """A short DPO fit on the CPU."""
    trainer = quiet_trainer(max_steps=max_steps)
    trainer.fit(module, PreferenceDataModule(data_dir=str(data_dir), batch_size=batch_size, shuffle=False))
    return trainer


@torch.no_grad()
def reference_logits(module: PreferenceModule, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits of the reference model (adapter off) on a fixed batch."""
    inputs = module.backbone.model_inputs(batch)
    with module.reference.model(module.policy) as ref:
        return ref(**inputs, use_cache=False).logits.clone()


def fixed_batch(backbone: Backbone) -> dict[str, torch.Tensor]:
    prompts, chosen, _ = zip(*PAIRS[:2], strict=True)
    return backbone.collate(make_images(2, seed=1), list(prompts), list(chosen), ids=["a", "b"])
