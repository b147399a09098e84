"""A callback that SIGKILLs its own `lightning-csr fit` process once, at a chosen point, and logs what ran.

Used by the resume tests through the real CLI: the run dies like a machine losing power (no exception, no
cleanup), and the same command is run again. The log (JSONL, appended and flushed) records every generated
prompt, every training step's learning rate and every evaluation, so the test can check that nothing finished
is redone.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import lightning as L

from lightning_csr.callbacks.iteration import IterationEvaluator

POINTS = ("none", "generation", "training", "evaluation")


class KillSwitch(IterationEvaluator):
    """Kills the process at `point` of iteration 2 (evaluation: of iteration 1), once per run directory.

    Under DDP only the process of global rank `rank` kills itself (default: every rank, whichever comes first).
    """

    def __init__(self, point: str, log_file: str, rank: int | None = None) -> None:
        if point not in POINTS:
            raise ValueError(f"point: one of {POINTS}, got {point!r}")
        self.point = point
        self.rank = rank
        self.global_rank = 0
        self.log_file = Path(log_file)
        self.run_dir: Path | None = None
        self.calls_in_iteration_2 = 0

    def _log(self, **entry: Any) -> None:
        with self.log_file.open("a") as handle:
            handle.write(json.dumps({"pid": os.getpid(), **entry}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _kill_once(self, where: str) -> None:
        marker = self.run_dir / "killed"
        if self.rank is not None and self.rank != self.global_rank:
            return
        if self.point == where and not marker.exists():
            marker.write_text(where)
            self._log(event="kill", where=where)
            os.kill(os.getpid(), signal.SIGKILL)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        self.run_dir = Path(trainer.default_root_dir)
        self.global_rank = trainer.global_rank
        original = pl_module.generate_pairs

        def generate_pairs(images, prompts, ids, image_refs, iteration):
            if iteration == 2:
                self.calls_in_iteration_2 += 1
                if self.calls_in_iteration_2 == 2:  # the first shard of iteration 2 is on disk
                    self._kill_once("generation")
            curation = original(images, prompts, ids, image_refs, iteration)
            self._log(event="generate", iteration=iteration, ids=list(ids), rank=self.global_rank)
            return curation

        pl_module.generate_pairs = generate_pairs

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        self._log(
            event="step",
            epoch=trainer.current_epoch,
            batch=batch_idx,
            lr=lr,
            ids=list(batch["ids"]),
            training=pl_module.policy.training,
        )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == 1 and batch_idx == 0:
            self._kill_once("training")

    def evaluate(self, pl_module: L.LightningModule, iteration: int) -> dict[str, Any]:
        path = self.run_dir / "iterations" / str(iteration) / "eval_test.json"
        if path.is_file():
            return json.loads(path.read_text())
        if iteration == 1:
            self._kill_once("evaluation")
        self._log(event="evaluate", iteration=iteration)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"iteration": iteration}))
        return {}


def read_log(path: Path) -> list[dict[str, Any]]:
    """The log's entries in order."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
