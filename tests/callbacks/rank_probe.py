"""A callback that records, per process, every file it opens for writing and the policy's weights per iteration.

Used by the multi-process tests through the real CLI. Writes are seen through a Python audit hook (`open`,
`os.open`, `os.rename`/`os.replace` events), so they cover everything Python code writes (json, torch.save,
tempfile); a write made by C or Rust code without Python's `open` (e.g. safetensors' writer) is not seen.
Each process appends to its own `<log_dir>/probe.<pid>.jsonl`, opened before the hook is installed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import lightning as L

from lightning_csr.data.provenance import tensors_digest

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


class RankProbe(L.Callback):
    """Logs writes under `watch` (default: the log directory's parent) and weight digests after each epoch."""

    def __init__(self, log_dir: str, watch: str | None = None) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.watch = str(Path(watch or self.log_dir.parent).resolve())
        self._handle = (self.log_dir / f"probe.{os.getpid()}.jsonl").open("a")
        sys.addaudithook(self._audit)

    def _log(self, **entry: Any) -> None:
        self._handle.write(json.dumps({"pid": os.getpid(), **entry}) + "\n")
        self._handle.flush()

    def _audit(self, event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS
            )
            if writing and isinstance(path, (str, os.PathLike)):
                self._record(path)
        elif event == "os.rename":
            self._record(args[1])

    def _record(self, path: str | os.PathLike) -> None:
        absolute = os.path.abspath(os.fspath(path))
        if absolute.startswith(self.watch) and not absolute.startswith(str(self.log_dir.resolve())):
            self._log(event="write", path=absolute)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._log(event="rank", rank=trainer.global_rank, world_size=trainer.world_size)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        digest = tensors_digest(pl_module.named_parameters())
        self._log(event="weights", rank=trainer.global_rank, epoch=-1, digest=digest)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not isinstance(batch, dict) or "ids" not in batch:  # e.g. PPO's prompt batches
            return
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self._log(event="batch", rank=trainer.global_rank, ids=list(batch["ids"]), loss=float(loss))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        digest = tensors_digest(pl_module.named_parameters())
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        self._log(
            event="weights",
            rank=trainer.global_rank,
            epoch=trainer.current_epoch,
            digest=digest,
            metrics=metrics,
        )


def read_probe(log_dir: Path) -> dict[int, list[dict[str, Any]]]:
    """Every process's entries, keyed by its global rank (a process that never reached `setup` is left out)."""
    by_rank: dict[int, list[dict[str, Any]]] = {}
    for path in sorted(log_dir.glob("probe.*.jsonl")):
        entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        ranks = {e["rank"] for e in entries if e["event"] == "rank"}
        if ranks:
            (rank,) = ranks
            by_rank.setdefault(rank, []).extend(entries)
    return by_rank


def writers(log_dir: Path) -> dict[str, set[int]]:
    """Every file the probed processes wrote, with the ranks that wrote it."""
    found: dict[str, set[int]] = {}
    for rank, entries in read_probe(log_dir).items():
        for entry in entries:
            if entry["event"] == "write":
                found.setdefault(entry["path"], set()).add(rank)
    return found
