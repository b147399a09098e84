"""`lightning-csr shapeworld rm-pairs`: Fact-RLHF reward-model pairs (train, val) and PPO prompts with facts."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from lightning_csr.shapeworld.world.files import DEFAULT_DATA_DIR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lightning-csr shapeworld rm-pairs", description=__doc__)
    parser.add_argument("--data", default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", default=None, help="default: <data>/rlhf")
    parser.add_argument("--model", default=None, help="also pair answers sampled from this model")
    parser.add_argument(
        "--n-train", type=int, default=600, help="prompt scenes for pairs (PPO gets the rest)"
    )
    parser.add_argument("--n-val", type=int, default=200, help="validation scenes for held-out pairs")
    parser.add_argument("--pairs-per-scene", type=int, default=4)
    parser.add_argument("--samples-per-scene", type=int, default=2, help="with --model")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str]) -> None:
    """Write ShapeWorld reward-model pairs and PPO prompts for Fact-RLHF."""
    from lightning_csr.shapeworld.rlhf.pairs import write_ppo_prompts, write_rm_data

    args = _parser().parse_args(argv)
    out = Path(args.out or Path(args.data) / "rlhf")
    counts = write_rm_data(
        args.data,
        out,
        n_train=args.n_train,
        n_val=args.n_val,
        model_dir=args.model,
        samples_per_scene=args.samples_per_scene,
        seed=args.seed,
        pairs_per_scene=args.pairs_per_scene,
    )
    counts["ppo_prompts"] = write_ppo_prompts(args.data, out / "ppo_prompts.jsonl", skip=args.n_train)
    print(json.dumps(counts))
