"""`lightning-csr shapeworld evaluate`: the metrics table of a saved VLM or CLIP on a prepared ShapeWorld."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from lightning_csr.commands.user_errors import user_errors
from lightning_csr.evaluation.model_files import ModelDirError
from lightning_csr.shapeworld.world.files import DEFAULT_DATA_DIR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lightning-csr shapeworld evaluate", description=__doc__)
    parser.add_argument("--model", required=True, help="a saved model + processor directory")
    parser.add_argument(
        "--data", default=DEFAULT_DATA_DIR, help="a prepared ShapeWorld (default: %(default)s)"
    )
    parser.add_argument(
        "--scenes", type=int, default=500, help="test scenes to evaluate on (default: %(default)s)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--json", default=None, help="also write the metrics (and per-scene outputs) here")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: from the load)"
    )
    return parser


def run_evaluate(args: argparse.Namespace) -> None:
    """Score the model directory on the test scenes and print its metrics table."""
    from rich.console import Console

    from lightning_csr.evaluation.progress import RichProgress
    from lightning_csr.shapeworld.build.card import metrics_table
    from lightning_csr.shapeworld.evaluation.model_dirs import evaluate_clip_dir, evaluate_vlm_dir, model_kind

    kind = model_kind(args.model)
    if kind == "clip":
        result = evaluate_clip_dir(args.model, args.data, args.scenes)
    else:
        with RichProgress() as progress:
            result = evaluate_vlm_dir(
                args.model, args.data, args.scenes, args.batch_size, args.max_new_tokens, progress
            )
    Console().print(metrics_table(result["metrics"], f"{args.model} on {result['n_scenes']} test scenes"))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


def main(argv: Sequence[str]) -> None:
    """Print the ShapeWorld metrics table of a saved VLM or CLIP directory."""
    import torch
    from transformers.utils import logging as hf_logging

    from lightning_csr.shapeworld.build.cores import auto_threads

    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads or auto_threads())
    hf_logging.disable_progress_bar()
    with user_errors("shapeworld evaluate", ModelDirError, FileNotFoundError, ValueError):
        run_evaluate(args)
