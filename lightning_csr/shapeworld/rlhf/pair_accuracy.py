"""Held-out accuracy of a saved reward model on ShapeWorld pairs, split by what decides each pair.

Kinds: `prior` (the rejected answer names an absent co-occurrence partner of a shape in the scene, the
hallucination the base learnt from its captions), `other` (it hallucinates some other absent shape) and
`recall` (both hallucinate equally; the chosen one names more of the scene).

    lightning-csr shapeworld rm-accuracy --reward-model runs/rlhf_shapeworld_rm/reward_model \\
        --pairs data/shapeworld/rlhf/val.jsonl --data data/shapeworld
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from lightning_csr.data.preference_dataset import PreferenceDataset
from lightning_csr.data.records import PreferenceRecord, read_records
from lightning_csr.data.rlhf import RewardPairCollator
from lightning_csr.rewards.reward_model import read_reward_model, reward_scores
from lightning_csr.shapeworld import Scene, WorldSettings, mentioned_shapes
from lightning_csr.shapeworld.world.files import read_scenes

KINDS = ("prior", "other", "recall")


def pair_kind(record: PreferenceRecord, scene: Scene, world: WorldSettings) -> str:
    """What separates the pair's answers: a prior-driven hallucination, another one, or recall alone."""
    truth = scene.shapes
    chosen = mentioned_shapes(record.chosen, world) - truth
    rejected = mentioned_shapes(record.rejected, world) - truth
    if len(chosen) == len(rejected):
        return "recall"
    partners = {p for shape in truth for p in world.co_occurrence.get(shape, {})}
    return "prior" if rejected & partners else "other"


@torch.no_grad()
def pair_wins(
    model: torch.nn.Module,
    head: torch.nn.Module,
    collator: RewardPairCollator,
    dataset: PreferenceDataset,
    batch_size: int = 32,
) -> list[bool]:
    """For each pair, whether the reward model scores the chosen answer above the rejected one."""
    wins: list[bool] = []
    for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collator):
        rewards = reward_scores(model, head, collator.backbone, batch)
        n = len(batch["ids"])
        wins += (rewards[:n] > rewards[n:]).tolist()
    return wins


def accuracy_by_kind(wins: Sequence[bool], kinds: Sequence[str]) -> dict[str, tuple[float, int]]:
    """{kind: (accuracy, pairs)} for every kind present, plus `all`."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for win, kind in zip(wins, kinds, strict=True):
        groups[kind].append(win)
        groups["all"].append(win)
    order = [*KINDS, "all"]
    return {k: (sum(groups[k]) / len(groups[k]), len(groups[k])) for k in order if groups[k]}


def reward_model_wins(
    reward_model: str | Path,
    pairs: str | Path,
    data: str | Path,
    base_model: str | Path | None = None,
    batch_size: int = 32,
) -> tuple[list[bool], list[str]]:
    """Per held-out pair (`meta.scene_id` each): whether the saved reward model prefers the chosen answer,
    and the pair's kind."""
    from lightning_csr.backbones import LlavaBackbone

    root = Path(data)
    world = WorldSettings.load(root / "world.json")
    splits = sorted(path.stem for path in (root / "scenes").glob("*.jsonl"))
    scenes = {s.id: s for split in splits for s in read_scenes(root, split)}
    records = read_records(pairs).records
    missing = [r.id for r in records if r.meta.get("scene_id") not in scenes]
    if missing:
        raise KeyError(f"{pairs}: pairs without a known meta.scene_id (first: {missing[:3]})")
    kinds = [pair_kind(r, scenes[r.meta["scene_id"]], world) for r in records]
    backbone = LlavaBackbone(model_id=str(base_model or root / "base_model"))
    model, head, prompt = read_reward_model(backbone, reward_model)
    wins = pair_wins(
        model, head, RewardPairCollator(backbone, prompt), PreferenceDataset(records, root), batch_size
    )
    return wins, kinds


def pair_accuracy(
    reward_model: str | Path,
    pairs: str | Path,
    data: str | Path,
    base_model: str | Path | None = None,
    batch_size: int = 32,
) -> dict[str, dict[str, float | int]]:
    """{kind: {"accuracy", "pairs"}} of a saved reward model on ShapeWorld pairs (`meta.scene_id` each)."""
    wins, kinds = reward_model_wins(reward_model, pairs, data, base_model, batch_size)
    return {k: {"accuracy": round(a, 4), "pairs": n} for k, (a, n) in accuracy_by_kind(wins, kinds).items()}
