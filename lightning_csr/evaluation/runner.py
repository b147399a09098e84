"""`lightning-csr evaluate`: one benchmark on one model; writes answers, results.json, report.md and plots."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from lightning_csr.evaluation.benchmarks import BENCHMARKS, BenchmarkOptions, run_benchmark

ANSWERS_FILE = "answers.jsonl"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lightning-csr evaluate", description=main.__doc__)
    parser.add_argument(
        "--model", required=True, help="HF model dir, CSR run dir, or base model (with --adapter)"
    )
    parser.add_argument("--adapter", help="PEFT adapter directory applied on top of --model")
    parser.add_argument("--checkpoint", help="run dir only: evaluate this checkpoint instead of the last one")
    parser.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    parser.add_argument(
        "--out", help="output directory (default: <run>/eval/<benchmark> or eval/<name>_<benchmark>)"
    )
    group = parser.add_argument_group("benchmark files")
    group.add_argument("--coco-instances", help="COCO instances_val2014.json (chair, pope)")
    group.add_argument("--coco-captions", help="COCO captions_val2014.json (chair: widens the ground truth)")
    group.add_argument("--images-dir", help="COCO val2014 images (chair, pope) or MMHal-Bench images (mmhal)")
    group.add_argument("--pope-file", help="existing POPE question file (JSONL)")
    group.add_argument("--pope-split", default="all", choices=("all", "random", "popular", "adversarial"))
    group.add_argument("--mmhal-template", help="MMHal-Bench response_template.json")
    group.add_argument(
        "--judge-base-url", help="OpenAI-compatible API base URL, e.g. https://api.openai.com/v1"
    )
    group.add_argument("--judge-model", help="judge model name")
    group.add_argument("--judge-key-env", default="OPENAI_API_KEY", help="env var holding the judge API key")
    group.add_argument("--data", default="data/shapeworld", help="prepared ShapeWorld directory")
    group.add_argument("--split", default="test", help="ShapeWorld split")
    run = parser.add_argument_group("size and decoding")
    run.add_argument("--num-scenes", type=int, help="ShapeWorld scenes (default 200)")
    run.add_argument("--num-images", type=int, help="COCO images / MMHal items (default: the benchmark's)")
    run.add_argument("--batch-size", type=int, default=16)
    run.add_argument(
        "--max-new-tokens", type=int, help="default: chair 512, pope 32, mmhal 512, shapeworld 64"
    )
    run.add_argument("--answer-tokens", type=int, default=16, help="ShapeWorld: budget of the short answers")
    run.add_argument("--seed", type=int, default=0)
    return parser


def options_from_args(args: argparse.Namespace, out_dir: Path) -> BenchmarkOptions:
    """BenchmarkOptions from the parsed command line."""
    names = {f.name for f in fields(BenchmarkOptions)}
    values = {k: v for k, v in vars(args).items() if k in names}
    values["num_items"] = args.num_scenes if args.benchmark == "shapeworld" else args.num_images
    values["judge_cache"] = str(out_dir / "judge_cache.json")
    return BenchmarkOptions(**values)


def default_out_dir(args: argparse.Namespace, run_dir: Path | None) -> Path:
    if args.out:
        return Path(args.out)
    if run_dir is not None:
        return run_dir / "eval" / args.benchmark
    return Path("eval") / f"{Path(args.adapter or args.model).name}_{args.benchmark}"


def check_same_model(out_dir: Path, description: str) -> None:
    """Refuse to mix answers of two models in one output directory."""
    info = out_dir / "model.json"
    if info.is_file():
        previous = json.loads(info.read_text()).get("model")
        if previous != description:
            raise ValueError(
                f"{out_dir} holds answers of {previous!r}, not {description!r}: use another --out "
                f"(or delete {out_dir / ANSWERS_FILE})"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    info.write_text(json.dumps({"model": description}))


def evaluate(args: argparse.Namespace) -> tuple[dict[str, Any], Path]:
    """Load the model, run the benchmark with cached answers, write results.json, report.md and plots."""
    from lightning_csr.evaluation.answers_store import AnswerStore
    from lightning_csr.evaluation.cached_generation import CachedGenerator
    from lightning_csr.evaluation.model_loading import is_run_dir, load_model
    from lightning_csr.shapeworld.build.card import RichProgress

    run_dir = Path(args.model) if is_run_dir(Path(args.model)) and not args.adapter else None
    out_dir = default_out_dir(args, run_dir)
    options = options_from_args(args, out_dir)  # validates before the (slow) model load
    loaded = load_model(args.model, args.adapter, args.checkpoint)
    check_same_model(out_dir, loaded.description)
    with RichProgress() as progress:
        generate = CachedGenerator(
            loaded.model,
            loaded.backbone,
            AnswerStore(out_dir / ANSWERS_FILE),
            options.batch_size,
            progress.add,
        )
        result = run_benchmark(options, generate)
    result = {
        "benchmark": options.benchmark,
        "model": loaded.description,
        **result,
        "generation": {"generated": generate.generated, "reused": generate.reused},
    }
    write_outputs(out_dir, result, run_dir)
    return result, out_dir


def write_outputs(out_dir: Path, result: dict[str, Any], run_dir: Path | None) -> list[Path]:
    """results.json, the plots of the run (when there is one) and report.md; returns the files written."""
    from lightning_csr.evaluation.plots import plot_metric_curves, plot_pair_histograms
    from lightning_csr.evaluation.report import read_run_history, write_report

    out_dir.mkdir(parents=True, exist_ok=True)
    history = read_run_history(run_dir) if run_dir is not None else []
    name = run_dir.name if run_dir is not None else ""
    plots = [
        plot_metric_curves(
            history, out_dir / "metric_curves.png", f"Run {name}: evaluation metrics per iteration"
        ),
        plot_pair_histograms(
            history, out_dir / "pair_scores.png", f"Run {name}: preference pair scores per iteration"
        ),
    ]
    plots = [p for p in plots if p is not None]
    if history:
        result["run"] = {
            "dir": str(run_dir),
            "iterations": [
                {"iteration": r.iteration, "metrics": r.metrics, "stats": r.stats} for r in history
            ],
        }
    (out_dir / "results.json").write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    return [out_dir / "results.json", write_report(out_dir, result, history, plots), *plots]


def _print_summary(result: dict[str, Any], out_dir: Path) -> None:
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


def main(argv: Sequence[str] | None = None) -> None:
    """Evaluate a model (HF dir, base + adapter, or CSR run dir) on chair, pope, mmhal or shapeworld."""
    from lightning_csr.shapeworld.evaluation.model_dirs import ModelDirError

    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        result, out_dir = evaluate(args)
    except (ModelDirError, FileNotFoundError, ValueError) as error:
        print(f"lightning-csr evaluate: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    _print_summary(result, out_dir)
