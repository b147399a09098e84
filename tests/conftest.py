"""Shared fixtures: tiny models and preference data built offline into temporary directories."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(1)  # tiny models: one thread is faster than two fighting over a loaded machine


@pytest.fixture(scope="session")
def tiny_llava_dir(tmp_path_factory) -> Path:
    from tests.tiny_models import tiny_llava

    return tiny_llava(tmp_path_factory.mktemp("tiny_llava"))


def write_pairs(root: Path, n: int = 8, name: str = "pairs.jsonl") -> Path:
    """Write `n` pairs with small coloured images under `root`; returns the pairs file."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        Image.new("RGB", (16, 16), (30 * i % 255, 40, 200 - 10 * i)).save(root / "images" / f"{i}.png")
        lines.append(
            json.dumps(
                {
                    "id": f"p{i}",
                    "image": f"images/{i}.png",
                    "prompt": "What is in the image?",
                    "chosen": f"a red square {i}",
                    "rejected": "a blue circle and a star",
                }
            )
        )
    path = root / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def pairs_dir(tmp_path) -> Path:
    write_pairs(tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory) -> Path:
    from tests.tiny_models import tiny_clip

    return tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


def write_prompts(root: Path, n: int = 6) -> Path:
    """Write `n` generation prompts with small images under `root`; returns the prompts file."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        Image.new("RGB", (16, 16), (40 * i % 255, 90, 30 * i % 255)).save(root / "images" / f"{i}.png")
        lines.append(json.dumps({"id": f"q{i}", "image": f"images/{i}.png", "prompt": "Describe the image."}))
    path = root / "prompts.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def rl_prompts(tmp_path_factory) -> Path:
    """Four PPO prompts with 16x16 images, facts and (for two) gold yes/no answers."""
    root = tmp_path_factory.mktemp("rl_prompts")
    (root / "images").mkdir()
    lines = []
    for i in range(4):
        Image.new("RGB", (16, 16), (50 * i, 90, 200 - 40 * i)).save(root / "images" / f"{i}.png")
        row = {"id": f"r{i}", "image": f"images/{i}.png", "prompt": "Describe the image."}
        row["facts"] = [f"a square number {i}", "a blue circle"]
        if i % 2:
            row.update(prompt="Is there a circle?", answer="yes", kind="yes_no")
        lines.append(json.dumps(row))
    (root / "prompts.jsonl").write_text("\n".join(lines) + "\n")
    return root / "prompts.jsonl"
