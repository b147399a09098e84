"""`lightning-csr shapeworld povid-pairs`: POVID pairs, a scene's ground-truth description vs an injected one."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from lightning_csr.commands.povid_inject import add_injector_arguments, build_injector, write_injected_pairs
from lightning_csr.data.injection import InjectionVocabulary
from lightning_csr.shapeworld.world.files import DEFAULT_DATA_DIR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lightning-csr shapeworld povid-pairs", description=__doc__)
    parser.add_argument(
        "--data", default=DEFAULT_DATA_DIR, help="a prepared ShapeWorld (default: %(default)s)"
    )
    parser.add_argument("--split", default="train", help="prompt split (prompts/<split>.jsonl)")
    parser.add_argument("--out", required=True, help="preference JSONL to write")
    parser.add_argument("--world", help="world.json of the rule vocabulary (default: <data>/world.json)")
    parser.add_argument(
        "--scenes", help="scenes JSONL for co-occurrence statistics (default: <data>'s train)"
    )
    add_injector_arguments(parser)
    return parser


def scene_vocabulary(args: argparse.Namespace) -> InjectionVocabulary:
    """The world's vocabulary (`--world`, else the data's), with statistics over `--scenes` or the train scenes."""
    from lightning_csr.shapeworld import Scene, WorldSettings
    from lightning_csr.shapeworld.povid import world_vocabulary
    from lightning_csr.shapeworld.world.files import read_scenes

    root = Path(args.data)
    world = WorldSettings.load(args.world or root / "world.json")
    if args.scenes:
        lines = Path(args.scenes).read_text().splitlines()
        scenes = [Scene.from_dict(json.loads(line)) for line in lines if line.strip()]
    else:
        scenes = read_scenes(root, "train")
    return world_vocabulary(world, scenes)


def main(argv: Sequence[str]) -> None:
    """Write POVID pairs from ShapeWorld's ground truth with a rule-based or LLM injector."""
    from lightning_csr.shapeworld.povid import shapeworld_answers

    args = _parser().parse_args(argv)
    answers = shapeworld_answers(args.data, args.split, args.seed)
    write_injected_pairs(
        answers, build_injector(args, lambda: scene_vocabulary(args)), args.injector, args.out
    )
