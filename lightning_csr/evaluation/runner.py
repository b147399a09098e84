"""One benchmark on one model (`lightning-csr evaluate`): answers, results.json, report.md and plots."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from lightning_csr.data.records import atomic_write_text
from lightning_csr.distributed import Ranks, join_launched_ranks
from lightning_csr.evaluation.benchmarks import BenchmarkOptions, run_benchmark

ANSWERS_FILE = "answers.jsonl"


def default_out_dir(model: str, adapter: str | None, benchmark: str, run_dir: Path | None) -> Path:
    """`<run>/eval/<benchmark>` for a run directory, else `eval/<model or adapter name>_<benchmark>`."""
    if run_dir is not None:
        return run_dir / "eval" / benchmark
    return Path("eval") / f"{Path(adapter or model).name}_{benchmark}"


def check_same_model(out_dir: Path, description: str, write: bool = True) -> None:
    """Refuse to mix answers of two models in one output directory (`write`: record this model's name)."""
    info = out_dir / "model.json"
    if info.is_file():
        previous = json.loads(info.read_text()).get("model")
        if previous != description:
            raise ValueError(
                f"{out_dir} holds answers of {previous!r}, not {description!r}: use another --out "
                f"(or delete {out_dir / ANSWERS_FILE})"
            )
    if write:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(info, json.dumps({"model": description}))


def answers_file(out_dir: Path, ranks: Ranks) -> Path:
    """Where this process stores its answers: `answers.jsonl`, or `answers.rank<r>.jsonl` on several ranks."""
    return out_dir / (ANSWERS_FILE if not ranks.several else f"answers.rank{ranks.rank}.jsonl")


def evaluate(
    options: BenchmarkOptions,
    model: str,
    adapter: str | None = None,
    checkpoint: str | None = None,
    out: str | Path | None = None,
) -> tuple[dict[str, Any], Path]:
    """Load the model, run the benchmark with cached answers, write results.json, report.md and plots.

    `model` is an HF model directory, a run directory (`checkpoint` picks another than its last) or a base
    model under `adapter`; answers go to `out` (default: `default_out_dir`) and are reused on a rerun.
    Launched on several processes (`torchrun --nproc_per_node N -m lightning_csr.cli evaluate ...`), each rank
    answers its share of the questions into its own answers file and rank 0 alone scores, judges and writes.
    """
    from lightning_csr.evaluation.answers_store import AnswerStore
    from lightning_csr.evaluation.cached_generation import CachedGenerator
    from lightning_csr.evaluation.model_loading import is_run_dir, load_model
    from lightning_csr.evaluation.progress import NullProgress, RichProgress

    ranks = join_launched_ranks()
    run_dir = Path(model) if is_run_dir(Path(model)) and not adapter else None
    out_dir = Path(out) if out else default_out_dir(model, adapter, options.benchmark, run_dir)
    if options.judge_cache is None:
        options = replace(options, judge_cache=str(out_dir / "judge_cache.json"))
    loaded = load_model(model, adapter, checkpoint)
    check_same_model(out_dir, loaded.description, write=ranks.is_zero)
    ranks.barrier("model.json written")
    with RichProgress() if ranks.is_zero else NullProgress() as progress:
        generate = CachedGenerator(
            loaded.model,
            loaded.backbone,
            AnswerStore(answers_file(out_dir, ranks)),
            options.batch_size,
            progress.add,
        )
        result = run_benchmark(options, generate)
    counts = ranks.gather((generate.generated, generate.reused))
    generated, reused = sum(c[0] for c in counts), sum(c[1] for c in counts)
    result = {
        "benchmark": options.benchmark,
        "model": loaded.description,
        **result,
        "generation": {"generated": generated, "reused": reused},
    }
    if ranks.is_zero:
        write_outputs(out_dir, result, run_dir)
    ranks.barrier("outputs written")
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
