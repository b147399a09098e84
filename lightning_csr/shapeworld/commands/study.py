"""`lightning-csr shapeworld study`: every method in N independently built worlds, with intervals and verdicts."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lightning_csr.commands.user_errors import user_errors


def _parser() -> argparse.ArgumentParser:
    from lightning_csr.shapeworld.study import run

    parser = argparse.ArgumentParser(
        prog="lightning-csr shapeworld study",
        description=run.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", default="configs/study/shapeworld.yaml", help="a study YAML (default: %(default)s)"
    )
    parser.add_argument("--out_dir", help="override the config's out_dir")
    parser.add_argument(
        "--worlds",
        nargs="+",
        type=int,
        help="run only these world seeds' steps and no report (several processes can share a study this way; "
        "a last run without it writes the report)",
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite report.md from results.json")
    return parser


def main(argv: Sequence[str]) -> None:
    """Run every method in N independently built worlds; a report with intervals and a verdict per claim."""
    import json
    from pathlib import Path

    from transformers.utils import logging as hf_logging

    from lightning_csr.shapeworld.study.report import write_report
    from lightning_csr.shapeworld.study.run import study
    from lightning_csr.shapeworld.study.settings import StudySettings

    args = _parser().parse_args(argv)
    hf_logging.disable_progress_bar()
    with user_errors("shapeworld study", FileNotFoundError, ValueError):
        settings = StudySettings.load(args.config)
        if args.out_dir:
            settings.out_dir = args.out_dir
        out = Path(settings.out_dir)
        if args.report_only:
            print(write_report(json.loads((out / "results.json").read_text()), out))
            return
        if study(settings, args.worlds) is not None:
            print((out / "report.md").read_text())
