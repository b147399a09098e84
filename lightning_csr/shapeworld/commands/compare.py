"""`lightning-csr compare`: DPO, POVID, TPO and CSR from one ShapeWorld base model, same prompts and budget."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lightning_csr.shapeworld.comparison import run
from lightning_csr.shapeworld.comparison.settings import METHODS, ComparisonSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lightning-csr compare", description=run.__doc__)
    parser.add_argument("--config", default="configs/compare/shapeworld.yaml")
    parser.add_argument("--methods", nargs="+", choices=METHODS, help="override the config's methods")
    parser.add_argument("--out_dir", help="override the config's out_dir")
    return parser


def main(argv: Sequence[str]) -> None:
    """Train and score every method from one ShapeWorld base; write a table and a chart."""
    args = _parser().parse_args(argv)
    config = ComparisonSettings.load(args.config)
    if args.methods:
        config.methods = args.methods
    if args.out_dir:
        config.out_dir = args.out_dir
    run.compare(config)
