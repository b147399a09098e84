"""Fact-RLHF in one world: reward-model pairs, the reward model with and without facts, PPO against each.

Each runs the shipped configs (`configs/rlhf/shapeworld_rm.yaml`, `shapeworld_ppo.yaml`) redirected to the
world's data, with the study's extra arguments; the reward models are scored pair by pair on held-out pairs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RM_CONFIG, PPO_CONFIG = "configs/rlhf/shapeworld_rm.yaml", "configs/rlhf/shapeworld_ppo.yaml"
QUIET = ["--trainer", "configs/trainer/quiet.yaml", "--ckpt_path=null"]


def write_pairs(data: Path, counts: dict[str, int]) -> dict[str, Any]:
    """`rm-pairs` with the base model's sampled answers: train/val pairs and PPO prompts under `<data>/rlhf`."""
    from lightning_csr.shapeworld.rlhf.pairs import write_ppo_prompts, write_rm_data

    n_train = counts.get("n_train", 600)
    written = write_rm_data(
        data,
        data / "rlhf",
        n_train=n_train,
        n_val=counts.get("n_val", 200),
        model_dir=str(data / "base_model"),
    )
    written["ppo_prompts"] = write_ppo_prompts(data, data / "rlhf" / "ppo_prompts.jsonl", skip=n_train)
    return written


def train_reward_model(data: Path, run: Path, use_facts: bool, extra: list[str]) -> dict[str, Any]:
    """Fit a reward model under `run`; its held-out pair wins (1 = chosen scored above rejected) by kind."""
    from lightning_csr.shapeworld.comparison.training import fit
    from lightning_csr.shapeworld.rlhf.pair_accuracy import reward_model_wins

    fit(
        [
            "--config",
            RM_CONFIG,
            *QUIET,
            f"--trainer.default_root_dir={run}",
            f"--model.init_args.backbone.init_args.model_id={data / 'base_model'}",
            f"--data.init_args.train_file={data / 'rlhf' / 'train.jsonl'}",
            f"--data.init_args.val_file={data / 'rlhf' / 'val.jsonl'}",
            f"--data.init_args.image_root={data}",
            f"--data.init_args.reward_prompt.use_facts={str(use_facts).lower()}",
            *extra,
        ]
    )
    wins, kinds = reward_model_wins(run / "reward_model", data / "rlhf" / "val.jsonl", data)
    return {"wins": [int(w) for w in wins], "kinds": kinds, "accuracy": sum(wins) / len(wins)}


def train_ppo(
    data: Path, run: Path, reward_model: Path, eval_scenes: int, extra: list[str]
) -> dict[str, Any]:
    """PPO against `reward_model` under `run`, scored on `eval_scenes` test scenes before and after."""
    from lightning_csr.shapeworld.comparison.training import fit
    from lightning_csr.shapeworld.study.methods import scored

    evaluation = {
        "class_path": "lightning_csr.shapeworld.evaluation.ShapeWorldEvalCallback",
        "init_args": {"data_dir": str(data), "split": "test", "num_scenes": eval_scenes},
    }
    fit(
        [
            "--config",
            PPO_CONFIG,
            *QUIET,
            f"--trainer.default_root_dir={run}",
            f"--trainer.callbacks={json.dumps([evaluation])}",
            f"--model.init_args.backbone.init_args.model_id={data / 'base_model'}",
            f"--model.init_args.reward_model={reward_model}",
            f"--data.init_args.train_file={data / 'rlhf' / 'ppo_prompts.jsonl'}",
            f"--data.init_args.image_root={data}",
            *extra,
        ]
    )
    last = max(int(p.name) for p in (run / "iterations").iterdir() if (p / "eval.json").is_file())
    return scored(json.loads((run / "iterations" / str(last) / "eval.json").read_text()))
