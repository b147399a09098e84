"""`lightning-csr evaluate`: one benchmark on one model; writes answers, results.json, report.md and plots."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from lightning_csr.commands.user_errors import user_errors
from lightning_csr.evaluation.benchmarks import BenchmarkOptions, benchmarks


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lightning-csr evaluate", description=main.__doc__)
    parser.add_argument(
        "--model", required=True, help="HF model dir, CSR run dir, or base model (with --adapter)"
    )
    parser.add_argument("--adapter", help="PEFT adapter directory applied on top of --model")
    parser.add_argument("--checkpoint", help="run dir only: evaluate this checkpoint instead of the last one")
    parser.add_argument("--benchmark", required=True, choices=tuple(benchmarks()))
    parser.add_argument(
        "--out", help="output directory (default: <run>/eval/<benchmark> or eval/<name>_<benchmark>)"
    )
    group = parser.add_argument_group("benchmark files")
    group.add_argument("--coco-instances", help="COCO instances_val2014.json (chair, pope)")
    group.add_argument("--coco-captions", help="COCO captions_val2014.json (chair: widens the ground truth)")
    group.add_argument("--images-dir", help="COCO val2014 images (chair, pope), AMBER or MMHal-Bench images")
    group.add_argument("--pope-file", help="existing POPE question file (JSONL)")
    group.add_argument("--pope-split", default="all", choices=("all", "random", "popular", "adversarial"))
    group.add_argument(
        "--chair-vocabulary",
        default="released",
        choices=("released", "extended"),
        help="CHAIR objects: the released synonym list and rules (as papers report) or our extended list",
    )
    group.add_argument(
        "--pope-parser",
        default="released",
        choices=("released", "strict"),
        help="POPE answers: the released rule (as papers report) or ours (unsure answers unparsed)",
    )
    group.add_argument("--amber-dir", help="AMBER's data/ folder: query/, annotations.json, relation.json")
    group.add_argument(
        "--amber-split",
        default="all",
        choices=("all", "generative", "discriminative", "existence", "attribute", "relation"),
        help="AMBER query file (default all)",
    )
    group.add_argument(
        "--amber-parser",
        default="first_word",
        choices=("first_word", "exact"),
        help="AMBER yes/no replies: the first word, or AMBER's exact 'Yes'/'No' comparison",
    )
    group.add_argument("--mmhal-template", help="MMHal-Bench response_template.json")
    group.add_argument(
        "--mmhal-evaluator",
        help="MMHal-Bench eval_gpt4.py: judge with its prompt and rating rule (read, not run) instead of ours",
    )
    group.add_argument(
        "--judge-base-url", help="OpenAI-compatible API base URL, e.g. https://api.openai.com/v1"
    )
    group.add_argument("--judge-model", help="judge model name")
    group.add_argument("--judge-key-env", default="OPENAI_API_KEY", help="env var holding the judge API key")
    group.add_argument("--data", default="data/shapeworld", help="prepared ShapeWorld directory")
    group.add_argument("--split", default="test", help="ShapeWorld split")
    run = parser.add_argument_group("size and decoding")
    run.add_argument("--num-scenes", type=int, help="ShapeWorld scenes (default 200)")
    run.add_argument(
        "--num-images",
        type=int,
        help="COCO images / AMBER queries per task / MMHal items (default: all or 500)",
    )
    run.add_argument("--batch-size", type=int, default=16)
    budgets = ", ".join(f"{name} {b.max_new_tokens}" for name, b in benchmarks().items())
    run.add_argument("--max-new-tokens", type=int, help=f"default: {budgets}")
    run.add_argument(
        "--answer-tokens",
        type=int,
        default=16,
        help="ShapeWorld, AMBER: budget of the short (yes/no) answers",
    )
    run.add_argument("--seed", type=int, default=0)
    return parser


def options_from_args(args: argparse.Namespace) -> BenchmarkOptions:
    """BenchmarkOptions from the parsed command line."""
    names = {f.name for f in fields(BenchmarkOptions)}
    values = {k: v for k, v in vars(args).items() if k in names}
    count_flag = benchmarks()[args.benchmark].num_items_flag
    values["num_items"] = getattr(args, count_flag.lstrip("-").replace("-", "_"))
    return BenchmarkOptions(**values)


def print_summary(result: dict[str, Any], out_dir: Path) -> None:
    """The headline metrics as a table, the first skipped items and the notes, and where the rest went."""
    from rich.console import Console
    from rich.table import Table

    from lightning_csr.evaluation.report import METRIC_COLUMNS

    table = Table(title=f"{result['benchmark']}: {result['model']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    headline = [k for k in METRIC_COLUMNS if k in result["metrics"]] or list(result["metrics"])
    for key in headline:
        value = result["metrics"][key]
        table.add_row(
            METRIC_COLUMNS.get(key, key), f"{value:.4f}" if isinstance(value, float) else str(value)
        )
    console = Console()
    console.print(table)
    for line in [*result["skipped"][:5], *result["notes"]]:
        console.print(f"[yellow]{line}[/yellow]")
    console.print(f"all metrics: {out_dir}/results.json; tables and plots: {out_dir}/report.md")


def main(argv: Sequence[str]) -> None:
    """Evaluate a model (HF dir, base + adapter, or CSR run dir) on chair, pope, amber, mmhal or shapeworld."""
    from lightning_csr.evaluation.benchmark_files import check_benchmark_files
    from lightning_csr.evaluation.model_files import ModelDirError
    from lightning_csr.evaluation.runner import evaluate

    args = _parser().parse_args(argv)
    with user_errors("evaluate", ModelDirError, FileNotFoundError, ValueError):
        options = options_from_args(args)  # validated before the (slow) model load
        check_benchmark_files(options)
        result, out_dir = evaluate(options, args.model, args.adapter, args.checkpoint, args.out)
    print_summary(result, out_dir)
