"""`EvaluationCallback`: any benchmark of `lightning-csr evaluate` during training, on a subset, every n epochs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L

from lightning_csr.callbacks.iteration import IterationEvaluator
from lightning_csr.data.records import atomic_write_text
from lightning_csr.distributed import Ranks
from lightning_csr.evaluation.benchmarks import BenchmarkOptions


class EvaluationCallback(IterationEvaluator):
    """Evaluates the policy at fit start (iteration 0) and after every `every_n_epochs` epochs (iteration = epochs done).

    Writes `<run_dir>/iterations/<k>/eval_<benchmark>.json` (metrics and details; read back by the runner's
    report) with the answers in `answers_<benchmark>.jsonl` beside it, so an interrupted evaluation resumes.
    Logs `eval/<benchmark>/<metric>` for every numeric metric. On several ranks each answers its slice of the
    questions (into its own `answers_<benchmark>.rank<r>.jsonl`) and rank 0 writes the report.

    Args:
        options: the benchmark and its files, as for `lightning-csr evaluate`; set `num_items` for a subset.
        every_n_epochs: evaluate after every n-th epoch (and after the last one).
        evaluate_at_start: also evaluate the starting policy at fit start (iteration 0).
        run_dir: where iterations are written (default: the trainer's `default_root_dir`).
    """

    sharded = True

    def __init__(
        self,
        options: BenchmarkOptions,
        every_n_epochs: int = 1,
        evaluate_at_start: bool = True,
        run_dir: str | None = None,
    ) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.options = options
        self.every_n_epochs = every_n_epochs
        self.evaluate_at_start = evaluate_at_start
        self.run_dir = Path(run_dir) if run_dir else None
        self.results: dict[int, dict[str, Any]] = {}

    @property
    def name(self) -> str:
        return self.options.benchmark

    @property
    def state_key(self) -> str:
        return self._generate_state_key(benchmark=self.name)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if self.run_dir is None:
            self.run_dir = Path(trainer.default_root_dir)

    def evaluate(self, pl_module: L.LightningModule, iteration: int) -> dict[str, Any]:
        """Metrics of the current policy at `iteration` (read back when that iteration was already evaluated)."""
        from lightning_csr.evaluation.answers_store import AnswerStore
        from lightning_csr.evaluation.benchmarks import run_benchmark
        from lightning_csr.evaluation.cached_generation import CachedGenerator

        directory, ranks = self.run_dir / "iterations" / str(iteration), Ranks()
        path = directory / f"eval_{self.name}.json"
        if ranks.from_zero(path.is_file()):
            return json.loads(path.read_text())["metrics"]
        suffix = f".rank{ranks.rank}" if ranks.several else ""
        store = AnswerStore(directory / f"answers_{self.name}{suffix}.jsonl")
        generate = CachedGenerator(pl_module.policy, pl_module.backbone, store, self.options.batch_size)
        result = run_benchmark(self.options, generate)
        if ranks.is_zero:
            atomic_write_text(path, json.dumps({"iteration": iteration, **result}, indent=1, default=str))
        self.results[iteration] = result["metrics"]
        return result["metrics"]

    def due(self, trainer: L.Trainer, iteration: int) -> bool:
        if iteration == 0:
            return self.evaluate_at_start
        last = trainer.max_epochs is not None and iteration >= trainer.max_epochs
        return iteration % self.every_n_epochs == 0 or last

    def log_metrics(self, pl_module: L.LightningModule, metrics: dict[str, Any]) -> None:
        numbers = {
            f"eval/{self.name}/{k}": float(v) for k, v in metrics.items() if isinstance(v, int | float)
        }
        if numbers:
            pl_module.log_dict(numbers, rank_zero_only=True)
