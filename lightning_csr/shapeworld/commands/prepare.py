"""`lightning-csr shapeworld prepare`: generate the scenes and SFT data, train the base VLM and the CLIP."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from lightning_csr.commands.user_errors import user_errors
from lightning_csr.evaluation.model_files import ModelDirError
from lightning_csr.shapeworld.world.files import DEFAULT_DATA_DIR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lightning-csr shapeworld prepare", description=__doc__)
    parser.add_argument("--out", default=DEFAULT_DATA_DIR, help="output directory (default: %(default)s)")
    parser.add_argument(
        "--scale", choices=("full", "tiny"), default="full", help="tiny: a few scenes and steps"
    )
    parser.add_argument(
        "--world", default=None, help="a WorldSettings JSON file (default: the default world)"
    )
    parser.add_argument(
        "--world-seed",
        type=int,
        default=None,
        help="draw the world's six co-occurrence priors by this seed (default: the fixed six; not with --world)",
    )
    parser.add_argument("--seed", type=int, default=None, help="scene seed (default: the scale's)")
    parser.add_argument(
        "--model-seed",
        type=int,
        default=None,
        help="seed of the vision tower, CLIP and base VLM initialisation and data order (default: 0)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="stage workers at once, one torch thread each; the models do not depend on it "
        "(default: from the load)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    return parser


def run_prepare(args: argparse.Namespace) -> None:
    """Build (or finish building) the prepared ShapeWorld; print the base models' metrics."""
    from lightning_csr.evaluation.progress import NullProgress, RichProgress
    from lightning_csr.shapeworld.build.card import metrics_table
    from lightning_csr.shapeworld.build.cores import auto_threads
    from lightning_csr.shapeworld.build.prepare import prepare
    from lightning_csr.shapeworld.build.settings import SCALES
    from lightning_csr.shapeworld.world.priors import drawn_world
    from lightning_csr.shapeworld.world.settings import WorldSettings

    settings = SCALES[args.scale]()
    if args.seed is not None:
        settings.seed = args.seed
    if args.model_seed is not None:
        settings.with_model_seed(args.model_seed)
    if args.world is not None and args.world_seed is not None:
        raise ValueError("--world and --world-seed: give one (a world file, or priors drawn by seed)")
    world = WorldSettings() if args.world is None else WorldSettings.load(args.world)
    if args.world_seed is not None:
        world = drawn_world(args.world_seed)
    workers = args.threads or auto_threads()
    if args.quiet:
        prepare(args.out, settings, world, NullProgress(), workers)
        return
    with RichProgress() as progress:
        result = prepare(args.out, settings, world, progress, workers)
    console = progress.console
    console.print(metrics_table(result["stamps"]["evaluate_base"]["info"]["metrics"], "base VLM (test)"))
    console.print(metrics_table(result["stamps"]["evaluate_clip"]["info"]["metrics"], "CLIP (test)"))
    failed = [g["label"] for g in result["usability"]["gates"] if not g["passed"]]
    console.print(
        "usable as a testbed"
        if not failed
        else f"NOT usable as a testbed: {', '.join(failed)} below the gate"
    )
    console.print(
        f"built {result['ran'] or 'nothing'}, skipped {result['skipped'] or 'nothing'} "
        f"in {result['seconds']:.1f} s; card: {Path(args.out) / 'card.md'}"
    )


def main(argv: Sequence[str]) -> None:
    """Generate ShapeWorld scenes and SFT data, train its base VLM and CLIP."""
    from transformers.utils import logging as hf_logging

    from lightning_csr.shapeworld.build.stages import PrepareError

    args = _parser().parse_args(argv)
    hf_logging.disable_progress_bar()
    with user_errors("shapeworld prepare", PrepareError, ModelDirError, FileNotFoundError, ValueError):
        run_prepare(args)
