"""`PreferenceRegenerationCallback`: each CSR iteration trains on pairs the current policy just wrote.

Lightning rebuilds the train dataloader (`reload_dataloaders_every_n_epochs=1`) *before* `on_train_epoch_start`,
so the pairs of epoch k are written at `on_fit_start` (k = 0) and at the end of epoch k-1. Generation is
sharded: each batch of prompts is written atomically as it finishes, so a killed run resumes without
regenerating finished prompts, and seeds depend only on (iteration, prompt id), so the pairs equal those of an
uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lightning_csr.callbacks.reference_sync import ReferenceSyncCallback
from lightning_csr.data.preference_dataset import load_image
from lightning_csr.data.prompts import PromptRecord, read_prompts
from lightning_csr.data.records import PreferenceRecord, atomic_write_text, write_records

log = logging.getLogger(__name__)


class PreferenceRegenerationCallback(L.Callback):
    """Writes `<run_dir>/iterations/<k>/pairs.jsonl` with the current policy and points the DataModule at it.

    Args:
        prompts_file: JSONL `{id, image, prompt}` (the same prompts every iteration, as in CSR).
        image_root: directory the prompts' images are relative to (default: the prompts file's directory).
        num_prompts: use only the first N prompts.
        batch_size: prompts per generation batch (= per shard).
        run_dir: where iterations are written (default: the trainer's `default_root_dir`).
        checkpoint_before_generation: save `last.ckpt` before generating, so a kill during generation
            resumes from the finished epoch instead of training it again.
    """

    def __init__(
        self,
        prompts_file: str,
        image_root: str | None = None,
        num_prompts: int | None = None,
        batch_size: int = 8,
        run_dir: str | None = None,
        checkpoint_before_generation: bool = True,
    ) -> None:
        self.prompts_file = Path(prompts_file)
        self.image_root = Path(image_root) if image_root else self.prompts_file.parent
        self.num_prompts = num_prompts
        self.batch_size = batch_size
        self.run_dir = Path(run_dir) if run_dir else None
        self.checkpoint_before_generation = checkpoint_before_generation
        self.prompts: list[PromptRecord] = []
        self.history: dict[int, dict[str, Any]] = {}
        self.completed_epochs = 0  # restored from checkpoints (before on_fit_start, unlike the loop state)

    def state_dict(self) -> dict[str, Any]:
        return {"completed_epochs": self.completed_epochs}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.completed_epochs = int(state_dict["completed_epochs"])

    # ------------------------------------------------------------------ hooks
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.prompts = read_prompts(self.prompts_file, self.num_prompts)
        if self.run_dir is None:
            self.run_dir = Path(trainer.default_root_dir)
        pl_module.pairs_per_iteration = len(self.prompts)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.prepare_iteration(trainer, pl_module, self.completed_epochs + 1)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.completed_epochs = trainer.current_epoch + 1
        if self.completed_epochs >= (trainer.max_epochs or 0) or trainer.should_stop:
            return
        for callback in trainer.callbacks:
            if isinstance(callback, ReferenceSyncCallback):
                callback.ensure_synced(trainer, pl_module)
        if self.checkpoint_before_generation and trainer.checkpoint_callback is not None:
            dirpath = trainer.checkpoint_callback.dirpath or str(self.run_dir / "checkpoints")
            trainer.save_checkpoint(Path(dirpath) / "last.ckpt")
        self.prepare_iteration(trainer, pl_module, self.completed_epochs + 1)
        if getattr(pl_module, "reset_optimizer", False):
            trainer.strategy.setup_optimizers(trainer)

    # ------------------------------------------------------------ generation
    def iteration_dir(self, iteration: int) -> Path:
        return self.run_dir / "iterations" / str(iteration)

    def prepare_iteration(self, trainer: L.Trainer, pl_module: L.LightningModule, iteration: int) -> None:
        """Make sure the pairs of `iteration` exist (resuming from shards), then train on them."""
        directory = self.iteration_dir(iteration)
        if not (directory / "pairs.jsonl").is_file():
            self.generate(pl_module, iteration, directory)
        self.history[iteration] = json.loads((directory / "stats.json").read_text())
        datamodule = trainer.datamodule
        datamodule.image_root = str(self.image_root)
        datamodule.set_data_dir(directory)

    def generate(self, pl_module: L.LightningModule, iteration: int, directory: Path) -> None:
        shards = directory / "shards"
        shards.mkdir(parents=True, exist_ok=True)
        batches = [
            self.prompts[i : i + self.batch_size] for i in range(0, len(self.prompts), self.batch_size)
        ]
        start = time.perf_counter()
        columns = (
            TextColumn(f"CSR iteration {iteration}: generating pairs"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, transient=False) as progress:
            task = progress.add_task("generate", total=len(self.prompts))
            for index, batch in enumerate(batches):
                shard = shards / f"{index:05d}.json"
                if not shard.is_file():
                    self._write_shard(pl_module, batch, iteration, shard)
                progress.advance(task, len(batch))
        self._merge(directory, shards, len(batches), time.perf_counter() - start)

    def _write_shard(self, pl_module, batch: list[PromptRecord], iteration: int, shard: Path) -> None:
        images = [load_image(self.image_root, p.image, p.id) for p in batch]
        curation = pl_module.generate_pairs(
            images, [p.prompt for p in batch], [p.id for p in batch], [p.image for p in batch], iteration
        )
        payload = {
            "records": [json.loads(r.to_json()) for r in curation.records],
            "dropped": curation.dropped,
        }
        atomic_write_text(shard, json.dumps(payload))

    def _merge(self, directory: Path, shards: Path, count: int, seconds: float) -> None:
        records: list[PreferenceRecord] = []
        dropped: dict[str, list[str]] = {}
        for index in range(count):
            payload = json.loads((shards / f"{index:05d}.json").read_text())
            records.extend(PreferenceRecord(**r) for r in payload["records"])
            for reason, ids in payload["dropped"].items():
                dropped.setdefault(reason, []).extend(ids)
        margins = [r.meta.get("margin", 0.0) for r in records]
        stats = {
            "pairs": len(records),
            "prompts": len(self.prompts),
            "dropped": {reason: len(ids) for reason, ids in dropped.items()},
            "dropped_ids": dropped,
            "mean_margin": sum(margins) / max(len(margins), 1),
            "mean_chosen_words": sum(len(r.chosen.split()) for r in records) / max(len(records), 1),
            "mean_rejected_words": sum(len(r.rejected.split()) for r in records) / max(len(records), 1),
            "generation_seconds": round(seconds, 2),
        }
        if not records:
            raise RuntimeError(f"{directory}: generation produced no usable pairs ({stats['dropped']})")
        atomic_write_text(directory / "stats.json", json.dumps(stats, indent=2))
        write_records(directory / "pairs.jsonl", records)  # written last: its presence marks completion
        log.info("iteration %s: %d pairs (%s dropped)", directory.name, len(records), stats["dropped"])
