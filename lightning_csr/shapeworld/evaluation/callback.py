"""`ShapeWorldEvalCallback`: exact hallucination metrics on held-out scenes before and after every iteration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
from rich import box
from rich.console import Console
from rich.table import Table

from lightning_csr.callbacks.iteration import IterationEvaluator
from lightning_csr.data.records import atomic_write_text
from lightning_csr.distributed import Ranks

COLUMNS = {
    "chair_s": "CHAIR_S",
    "chair_i": "CHAIR_I",
    "recall": "recall",
    "pope/random/f1": "POPE-R F1",
    "pope/popular/f1": "POPE-P F1",
    "pope/adversarial/f1": "POPE-A F1",
    "mean_words": "words",
}


class ShapeWorldEvalCallback(IterationEvaluator):
    """Evaluates the policy on `num_scenes` held-out scenes at fit start (iteration 0) and after each epoch.

    Writes `<run_dir>/iterations/<k>/eval.json`, logs `shapeworld/<metric>`, and prints a per-iteration table
    (also written to `<run_dir>/summary.md` and `summary.json`) when fitting ends. On several ranks each answers
    its slice of the questions; rank 0 writes the files.
    """

    sharded = True

    def __init__(
        self,
        data_dir: str = "data/shapeworld",
        split: str = "test",
        num_scenes: int = 200,
        batch_size: int = 50,
        max_new_tokens: int = 64,
        run_dir: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.split = split
        self.num_scenes = num_scenes
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.run_dir = Path(run_dir) if run_dir else None
        self._scenes = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        from lightning_csr.shapeworld import WorldSettings
        from lightning_csr.shapeworld.world.files import load_images, read_scenes

        super().setup(trainer, pl_module, stage)
        if self.run_dir is None:
            self.run_dir = Path(trainer.default_root_dir)
        self.world = WorldSettings.load(self.data_dir / "world.json")
        scenes = read_scenes(self.data_dir, self.split)[: self.num_scenes]
        self._scenes = scenes
        self._images = load_images(self.data_dir, self.split, scenes)

    def evaluate(self, pl_module: L.LightningModule, iteration: int) -> dict[str, float]:
        """Metrics of the current policy (cached in the iteration directory)."""
        from lightning_csr.shapeworld.evaluation.metrics import evaluate_shapeworld

        path, ranks = self.run_dir / "iterations" / str(iteration) / "eval.json", Ranks()
        if ranks.from_zero(path.is_file()):
            return json.loads(path.read_text())["metrics"]
        result = evaluate_shapeworld(
            pl_module.policy,
            pl_module.backbone,
            self.world,
            self._scenes,
            batch_size=self.batch_size,
            max_new_tokens=self.max_new_tokens,
            images=self._images,
        )
        if ranks.is_zero:
            atomic_write_text(path, json.dumps(result, indent=1))
        return result["metrics"]

    def log_metrics(self, pl_module: L.LightningModule, metrics: dict[str, Any]) -> None:
        pl_module.log_dict({f"shapeworld/{k}": v for k, v in metrics.items() if k in COLUMNS})

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        rows = self.summary()
        table = Table(  # no vertical rules, so the nine columns fit an 80-column terminal unabridged
            title=f"ShapeWorld, {len(self._scenes)} held-out {self.split} scenes, per iteration (POPE: F1)",
            box=box.SIMPLE_HEAVY,
            padding=(0, 1),
            pad_edge=False,
        )
        table.add_column("iter.")
        for label in COLUMNS.values():
            table.add_column(label.removesuffix(" F1"), justify="right")
        table.add_column("pairs", justify="right")
        for row in rows:
            cells = [f"{row[k]:.3f}" if k != "mean_words" else f"{row[k]:.1f}" for k in COLUMNS]
            table.add_row(str(row["iteration"]), *cells, str(row.get("pairs", "-")))
        Console().print(table)
        atomic_write_text(self.run_dir / "summary.json", json.dumps(rows, indent=1))
        atomic_write_text(self.run_dir / "summary.md", markdown_table(rows))

    def summary(self) -> list[dict[str, Any]]:
        """One row per evaluated iteration, with that iteration's pair statistics when present."""
        rows = []
        for directory in sorted((self.run_dir / "iterations").iterdir(), key=lambda p: int(p.name)):
            if not (directory / "eval.json").is_file():
                continue
            row = {
                "iteration": int(directory.name),
                **json.loads((directory / "eval.json").read_text())["metrics"],
            }
            stats = directory / "stats.json"
            if stats.is_file():
                row["pairs"] = json.loads(stats.read_text())["pairs"]
            rows.append(row)
        return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The per-iteration table as Markdown (iteration 0 is the starting model)."""
    header = "| iteration | " + " | ".join(COLUMNS.values()) + " | pairs |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 2)]
    for row in rows:
        cells = [f"{row[k]:.3f}" if k != "mean_words" else f"{row[k]:.1f}" for k in COLUMNS]
        lines.append(f"| {row['iteration']} | " + " | ".join(cells) + f" | {row.get('pairs', '-')} |")
    return "\n".join(lines) + "\n"
