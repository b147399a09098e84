"""`lightning-csr shapeworld rm-accuracy`: a saved reward model's held-out pair accuracy, by what decides a pair."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from lightning_csr.shapeworld.world.files import DEFAULT_DATA_DIR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lightning-csr shapeworld rm-accuracy", description=__doc__)
    parser.add_argument("--reward-model", required=True, help="a RewardModelModule export directory")
    parser.add_argument("--pairs", default=f"{DEFAULT_DATA_DIR}/rlhf/val.jsonl")
    parser.add_argument("--data", default=DEFAULT_DATA_DIR)
    parser.add_argument("--base-model", default=None, help="default: <data>/base_model")
    parser.add_argument("--batch-size", type=int, default=32)
    return parser


def main(argv: Sequence[str]) -> None:
    """Print a reward model's accuracy on ShapeWorld pairs, by kind (prior, other, recall)."""
    from lightning_csr.shapeworld.rlhf.pair_accuracy import pair_accuracy

    args = _parser().parse_args(argv)
    result = pair_accuracy(args.reward_model, args.pairs, args.data, args.base_model, args.batch_size)
    print(json.dumps(result))
