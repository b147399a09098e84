"""`lightning-csr shapeworld prepare|evaluate`: build the ShapeWorld data and models, or score a model dir."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

DEFAULT_DATA = "data/shapeworld"


def busy_cores(window: float = 0.5, stat_file: str = "/proc/stat") -> float:
    """How many cores other processes keep busy now, sampled from /proc/stat over `window` seconds (the
    1-minute load average instead where there is no /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path(stat_file).read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(window)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    cores = os.cpu_count() or 1
    return cores * (1 - (idle1 - idle0) / max(1, total1 - total0))


def auto_threads() -> int:
    """Cores to use (`prepare`'s stage workers, `evaluate`'s torch threads): all on an idle machine, fewer
    when others keep some busy (oversubscribed OpenMP threads spin and can make a step ten times slower).
    Measured now, not from the load average, which still counts a `pip install` that has just finished."""
    cores = os.cpu_count() or 1
    return max(1, min(cores, round(cores - busy_cores())))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lightning-csr shapeworld", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser(
        "prepare", help="generate scenes and SFT data, train the base VLM and the CLIP"
    )
    prep.add_argument("--out", default=DEFAULT_DATA, help="output directory (default: %(default)s)")
    prep.add_argument(
        "--scale", choices=("full", "tiny"), default="full", help="tiny: a few scenes and steps"
    )
    prep.add_argument("--world", default=None, help="a WorldConfig JSON file (default: the default world)")
    prep.add_argument("--seed", type=int, default=None, help="scene seed (default: the scale's)")
    prep.add_argument(
        "--threads",
        type=int,
        default=None,
        help="stage workers at once, one torch thread each; the models do not depend on it "
        "(default: from the load)",
    )
    prep.add_argument("--quiet", action="store_true", help="no progress display")
    ev = commands.add_parser("evaluate", help="print the metrics table of a VLM or CLIP model directory")
    ev.add_argument("--model", required=True, help="a saved model + processor directory")
    ev.add_argument("--data", default=DEFAULT_DATA, help="a prepared ShapeWorld (default: %(default)s)")
    ev.add_argument(
        "--scenes", type=int, default=500, help="test scenes to evaluate on (default: %(default)s)"
    )
    ev.add_argument("--batch-size", type=int, default=64)
    ev.add_argument("--max-new-tokens", type=int, default=64)
    ev.add_argument("--json", default=None, help="also write the metrics (and per-scene outputs) here")
    ev.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: from the load)")
    return parser


def run_prepare(args: argparse.Namespace) -> None:
    """The `prepare` subcommand."""
    from lightning_csr.shapeworld.build.card import NullProgress, RichProgress, metrics_table
    from lightning_csr.shapeworld.build.prepare import prepare
    from lightning_csr.shapeworld.build.settings import SCALES
    from lightning_csr.shapeworld.world.config import WorldConfig

    settings = SCALES[args.scale]()
    if args.seed is not None:
        settings.seed = args.seed
    world = WorldConfig() if args.world is None else WorldConfig.load(args.world)
    progress = NullProgress() if args.quiet else RichProgress()
    workers = args.threads or auto_threads()
    if isinstance(progress, RichProgress):
        with progress:
            result = prepare(args.out, settings, world, progress, workers)
        console = progress.console
        console.print(metrics_table(result["stamps"]["evaluate_base"]["info"]["metrics"], "base VLM (test)"))
        console.print(metrics_table(result["stamps"]["evaluate_clip"]["info"]["metrics"], "CLIP (test)"))
        console.print(
            f"built {result['ran'] or 'nothing'}, skipped {result['skipped'] or 'nothing'} "
            f"in {result['seconds']:.1f} s; card: {Path(args.out) / 'card.md'}"
        )
    else:
        prepare(args.out, settings, world, progress, workers)


def run_evaluate(args: argparse.Namespace) -> None:
    """The `evaluate` subcommand."""
    from rich.console import Console

    from lightning_csr.shapeworld.build.card import RichProgress, metrics_table
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


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point for `lightning-csr shapeworld ...`; user errors exit with status 2 and one clear line."""
    import torch
    from transformers.utils import logging as hf_logging

    from lightning_csr.shapeworld.build.stages import PrepareError
    from lightning_csr.shapeworld.evaluation.model_dirs import ModelDirError

    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command == "evaluate":  # `prepare` runs its models in one-thread stage workers
        torch.set_num_threads(args.threads or auto_threads())
    hf_logging.disable_progress_bar()
    try:
        (run_prepare if args.command == "prepare" else run_evaluate)(args)
    except (PrepareError, ModelDirError, FileNotFoundError, ValueError) as err:
        print(f"lightning-csr shapeworld {args.command}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
