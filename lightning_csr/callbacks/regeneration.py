"""`PreferenceRegenerationCallback`: each CSR iteration trains on pairs the current policy just wrote.

Lightning rebuilds the train dataloader (`reload_dataloaders_every_n_epochs=1`) *before* `on_train_epoch_start`,
so the pairs of epoch k are written at `on_fit_start` (k = 0) and at the end of epoch k-1. Generation is
sharded: each batch of prompts is written atomically as it finishes, so a killed run resumes without
regenerating finished prompts, and seeds depend only on (iteration, prompt id), so the pairs equal those of an
uninterrupted run. Under DDP each rank writes its own shards (`ShardPlan.owned`), rank 0 merges them after a
barrier, and every rank trains on the same `pairs.jsonl`: the same bytes whatever the number of processes.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lightning_csr.callbacks.iteration import IterationState, finish_iteration
from lightning_csr.callbacks.latest_checkpoint import LatestCheckpoint
from lightning_csr.callbacks.reference_sync import ReferenceSyncCallback
from lightning_csr.data.hf_export import DATASET_DIR, write_pairs_dataset
from lightning_csr.data.preference_dataset import load_image
from lightning_csr.data.preflight import check_bad_record_action, checked_records
from lightning_csr.data.preflight_tokens import processor_settings, prompt_collator, token_check
from lightning_csr.data.prompts import PromptRecord, parse_prompt
from lightning_csr.data.provenance import ProducerStamp, settings_digest
from lightning_csr.data.records import (
    PreferenceRecord,
    RecordError,
    atomic_write_text,
    read_records,
    write_records,
)
from lightning_csr.distributed import Ranks
from lightning_csr.generation.sharding import PairGenerator, ShardPlan

log = logging.getLogger(__name__)


def check_iterative_trainer(trainer: L.Trainer, pl_module: L.LightningModule) -> None:
    """Refuse, before anything runs, the settings under which iterations would silently train on stale pairs."""
    problems = []
    if trainer.max_epochs is None or trainer.max_epochs < 1:
        problems.append(
            "set trainer.max_epochs to the number of iterations (one epoch is one iteration; with max_steps "
            "alone the pairs are never regenerated)"
        )
    if trainer.reload_dataloaders_every_n_epochs != 1:
        problems.append(
            "set trainer.reload_dataloaders_every_n_epochs: 1 (each iteration trains on its own pairs)"
        )
    if not any(isinstance(c, ReferenceSyncCallback) for c in trainer.callbacks):
        problems.append(
            "add lightning_csr.callbacks.ReferenceSyncCallback (iteration k+1's reference is the policy after k)"
        )
    reference = getattr(pl_module, "reference", None)
    lora = getattr(getattr(pl_module, "backbone", None), "lora", None)
    mode = getattr(reference, "mode", None)
    if mode == "adapter_off" or (mode == "auto" and lora is not None):
        problems.append(
            "set model.init_args.reference: ref_adapter (LoRA) or copy, which can follow the policy"
        )
    if any(
        getattr(c, "save_last", False) and not isinstance(c, LatestCheckpoint)
        for c in trainer.checkpoint_callbacks
    ):
        problems.append(
            "checkpoint with lightning_csr.callbacks.LatestCheckpoint instead of ModelCheckpoint(save_last=...), "
            "so that last.ckpt is written at the end of every iteration and always names the latest state"
        )
    if problems:
        raise ValueError("PreferenceRegenerationCallback: " + "; ".join(problems))


class PreferenceRegenerationCallback(IterationState):
    """Writes `<run_dir>/iterations/<k>/pairs.jsonl` with the current policy and points the DataModule at it.

    At the end of iteration k it syncs the reference, writes `last.ckpt` (`IterationCheckpoint`), evaluates
    (`IterationEvaluator` callbacks) and then generates iteration k+1's pairs, in that order whatever the order
    of the callbacks, so that a kill at any point resumes with the same command and redoes nothing finished.

    Args:
        prompts_file: JSONL `{id, image, prompt}` or a Hugging Face dataset (the same prompts every iteration).
        image_root: directory the prompts' images are relative to (default: the prompts file's directory).
        num_prompts: use only the first N prompts.
        batch_size: prompts per generation batch (= per shard).
        run_dir: where iterations are written (default: the trainer's `default_root_dir`).
        pairs_dataset: also write each iteration's pairs as a Hugging Face dataset with the images embedded
            (`<iteration>/pairs_dataset`, TRL's vision layout; needs the `datasets` extra).
        on_bad_record: `error` (stop before any work, listing every bad prompt) or `skip` (drop them, list them
            in `<run_dir>/rejects/`, and say how many were dropped).
    """

    def __init__(
        self,
        prompts_file: str,
        image_root: str | None = None,
        num_prompts: int | None = None,
        batch_size: int = 8,
        run_dir: str | None = None,
        pairs_dataset: bool = False,
        on_bad_record: str = "error",
    ) -> None:
        self.on_bad_record = check_bad_record_action(on_bad_record)
        self.prompts_file = Path(prompts_file)
        self.image_root = Path(image_root) if image_root else self.prompts_file.parent
        self.num_prompts = num_prompts
        self.batch_size = batch_size
        self.run_dir = Path(run_dir) if run_dir else None
        self.pairs_dataset = pairs_dataset
        self.prompts: list[PromptRecord] = []
        self.history: dict[int, dict[str, Any]] = {}

    # ------------------------------------------------------------------ hooks
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if stage != "fit":
            return
        check_iterative_trainer(trainer, pl_module)
        if self.run_dir is None:
            self.run_dir = Path(trainer.default_root_dir)
        checked = checked_records(
            self.prompts_file,
            parse_prompt,
            self.image_root,
            on_bad_record=self.on_bad_record,
            rejects_dir=self.run_dir,
            skip_option="PreferenceRegenerationCallback's on_bad_record",
            tokens=token_check(prompt_collator(pl_module.backbone)),
            settings=processor_settings(pl_module.backbone),
        )
        self.prompts = [prompt for _, prompt in checked.records][: self.num_prompts]
        if not self.prompts:
            raise RecordError(f"{self.prompts_file}: no prompts")

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        done = self.resumed_epochs
        finish_iteration(trainer, pl_module, done, at_epoch_end=False)  # a kill may have cut it short
        if done < trainer.max_epochs:
            self.prepare_iteration(trainer, pl_module, done + 1)
        else:  # a finished run: Lightning still builds a dataloader before it sees there is nothing to do
            self.point_datamodule(trainer, self.iteration_dir(done))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        done = trainer.current_epoch + 1
        for callback in trainer.callbacks:
            if isinstance(callback, ReferenceSyncCallback):
                callback.ensure_synced(trainer, pl_module)
        finish_iteration(trainer, pl_module, done, at_epoch_end=True)
        stopping = trainer.should_stop or 0 < trainer.max_steps <= trainer.global_step
        if done < trainer.max_epochs and not stopping:
            self.prepare_iteration(trainer, pl_module, done + 1)

    # ------------------------------------------------------------ generation
    def iteration_dir(self, iteration: int) -> Path:
        return self.run_dir / "iterations" / str(iteration)

    def prepare_iteration(self, trainer: L.Trainer, pl_module: L.LightningModule, iteration: int) -> None:
        """Make sure the pairs of `iteration` exist (resuming from shards), then train on them."""
        directory = self.iteration_dir(iteration)
        ranks = Ranks()
        if ranks.is_zero:
            self.claim(pl_module, iteration, directory)
        ranks.barrier("csr-claim")
        if not ranks.is_zero:  # only checks the stamp rank 0 wrote (and so that this rank's weights agree)
            self.claim(pl_module, iteration, directory)
        if not ranks.from_zero((directory / "pairs.jsonl").is_file()):
            self.generate(pl_module, iteration, directory)
        if self.pairs_dataset and not (directory / DATASET_DIR).is_dir():
            records = read_records(directory / "pairs.jsonl").records
            write_pairs_dataset(records, self.image_root, directory / DATASET_DIR)
        self.history[iteration] = json.loads((directory / "stats.json").read_text())
        self.point_datamodule(trainer, directory)

    def point_datamodule(self, trainer: L.Trainer, directory: Path) -> None:
        """Train on `<directory>/pairs.jsonl` from the next dataloader on."""
        trainer.datamodule.image_root = str(self.image_root)
        trainer.datamodule.set_data_dir(directory)

    def claim(self, pl_module: L.LightningModule, iteration: int, directory: Path) -> None:
        """Stamp the iteration directory with what generates its pairs, or check the stamp it has."""
        identity = {
            **pl_module.generation_identity(),
            "iteration": iteration,
            "prompts": [vars(p) for p in self.prompts],
            "image_root": str(self.image_root),
            "batch_size": self.batch_size,
        }
        stamp = ProducerStamp(
            directory,
            "CSR pairs",
            "delete that iteration directory (or use another trainer.default_root_dir) to start it fresh",
        )
        stamp.claim(settings_digest(identity), {k: v for k, v in identity.items() if k != "prompts"})

    def generate(self, pl_module: PairGenerator, iteration: int, directory: Path) -> None:
        """Write this rank's missing shards; after a barrier, rank 0 merges them into `pairs.jsonl`."""
        ranks = Ranks()
        rank, world_size = ranks.rank, ranks.world_size
        plan = ShardPlan(len(self.prompts), self.batch_size, directory / "shards")
        plan.directory.mkdir(parents=True, exist_ok=True)
        pending = plan.pending(rank, world_size)
        start = time.perf_counter()
        columns = (
            TextColumn(f"CSR iteration {iteration}: generating pairs"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, transient=False, disable=rank != 0) as progress:
            task = progress.add_task("generate", total=sum(len(plan.items(i)) for i in pending))
            for index in pending:
                batch = [self.prompts[i] for i in plan.items(index)]
                self._write_shard(pl_module, batch, iteration, plan.path(index))
                progress.advance(task, len(batch))
        ranks.barrier("csr-shards")
        if rank == 0:
            if missing := plan.missing():
                raise RuntimeError(f"{plan.directory}: shards {missing} were not written by their ranks")
            self._merge(directory, plan.directory, plan.count, time.perf_counter() - start)
        ranks.barrier("csr-pairs")

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
