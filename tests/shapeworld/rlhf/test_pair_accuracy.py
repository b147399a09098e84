"""Reward-model accuracy by pair kind: kinds on hand-made pairs, and a saved reward model scored end to end."""

from __future__ import annotations

import json
import random

import pytest
import torch

from lightning_csr.backbones import LlavaBackbone, LoraSettings
from lightning_csr.cli import main
from lightning_csr.data.preference_dataset import PreferenceDataset
from lightning_csr.data.records import PreferenceRecord, write_records
from lightning_csr.data.rlhf import RewardPairCollator
from lightning_csr.modules.reward_model import RewardModelModule
from lightning_csr.rewards.reward_model import read_reward_model
from lightning_csr.shapeworld import Scene, SceneObject, WorldSettings
from lightning_csr.shapeworld.rlhf.pair_accuracy import accuracy_by_kind, pair_kind, pair_wins
from lightning_csr.shapeworld.rlhf.pairs import scene_pairs
from lightning_csr.shapeworld.world.files import read_scenes
from tests.evaluation.test_runner import write_tiny_shapeworld

WORLD = WorldSettings()
# a star without its co-occurrence partner (circle), and a square
SCENE = Scene(
    "s0",
    (
        SceneObject("star", "yellow", "large", (0, 0), (0, 0, 10, 10)),
        SceneObject("square", "blue", "small", (2, 1), (20, 40, 30, 50)),
    ),
)


def pair(chosen: str, rejected: str) -> PreferenceRecord:
    return PreferenceRecord("p", "x.png", "Describe.", chosen, rejected, {"scene_id": "s0"})


def test_pair_kinds_separate_prior_and_other_hallucinations_from_recall() -> None:
    assert WORLD.co_occurrence["star"] == {"circle": 0.5}
    assert pair_kind(pair("A star.", "A star and a circle."), SCENE, WORLD) == "prior"
    assert pair_kind(pair("A star.", "A star and a heart."), SCENE, WORLD) == "other"
    assert pair_kind(pair("A star and a square.", "A star."), SCENE, WORLD) == "recall"
    assert pair_kind(pair("A star and a heart.", "A heart."), SCENE, WORLD) == "recall"
    result = accuracy_by_kind([True, False, True, True], ["prior", "prior", "recall", "other"])
    assert result == {"prior": (0.5, 2), "other": (1.0, 1), "recall": (1.0, 1), "all": (0.75, 4)}


@pytest.fixture
def saved_reward_model(tiny_llava_dir, tmp_path):
    torch.manual_seed(0)
    module = RewardModelModule(LlavaBackbone(model_id=str(tiny_llava_dir), lora=LoraSettings(r=4, alpha=8)))
    module.configure_model()
    with torch.no_grad():  # a non-trivial adapter
        for name, param in module.policy.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.1)
    module.export(tmp_path / "rm")
    return module, tmp_path / "rm"


def test_saved_reward_model_scores_pairs_as_trained_and_reports_by_kind(
    tiny_llava_dir, tmp_path, saved_reward_model, capsys
) -> None:
    module, rm_dir = saved_reward_model
    data = write_tiny_shapeworld(tmp_path / "sw", n=3)
    scenes = read_scenes(data, "test")
    records = [r for s in scenes for r in scene_pairs(s, WORLD, "test", random.Random(0), n_pairs=3)]
    write_records(data / "pairs.jsonl", records)

    backbone = LlavaBackbone(model_id=str(tiny_llava_dir))
    model, head, prompt = read_reward_model(backbone, rm_dir)
    dataset = PreferenceDataset(records, data)
    wins = pair_wins(model, head, RewardPairCollator(backbone, prompt), dataset, batch_size=2)
    batch = RewardPairCollator(module.backbone, module.reward_prompt)(
        [dataset[i] for i in range(len(records))]
    )
    with torch.no_grad():
        rewards = module.rewards(batch)
    n = len(records)
    assert wins == (rewards[:n] > rewards[n:]).tolist()

    main(["shapeworld", "rm-accuracy", "--reward-model", str(rm_dir), "--pairs", str(data / "pairs.jsonl"),
          "--data", str(data), "--base-model", str(tiny_llava_dir)])  # fmt: skip
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["all"] == {"accuracy": round(sum(wins) / n, 4), "pairs": n}
    assert sum(v["pairs"] for k, v in result.items() if k != "all") == n
