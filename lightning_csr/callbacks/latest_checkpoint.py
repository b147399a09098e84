"""`LatestCheckpoint`: `last.ckpt` after every epoch (= iteration), so one name always means the latest state."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


class LatestCheckpoint(ModelCheckpoint):
    """A `ModelCheckpoint` that writes `<dirpath>/last.ckpt` at the end of every epoch, overwritten in place.

    Iterative methods call `save_latest` right after an iteration's training, before they evaluate it and
    generate the next iteration's data, so a run killed at any later point resumes from that iteration's end
    (`ckpt_path: last`). There is never a `last-v1.ckpt`: `export` and `evaluate` read `last.ckpt`.

    Args:
        dirpath: the checkpoint directory (default: `<default_root_dir>/checkpoints`).
        save_top_k: how many best checkpoints to keep beside `last.ckpt` (0: only `last.ckpt`). Declared here, not
            left to `kwargs`, because LightningCLI fills `kwargs` with `ModelCheckpoint`'s own default (1).
        kwargs: other `ModelCheckpoint` arguments.
    """

    def __init__(self, dirpath: str | None = None, save_top_k: int = 0, **kwargs: Any) -> None:
        kwargs.update(save_last=True, enable_version_counter=False)
        super().__init__(dirpath=dirpath, save_top_k=save_top_k, **kwargs)
        self._latest_saved_at: tuple[int, int] | None = None

    def save_latest(self, trainer: L.Trainer) -> None:
        """Write `last.ckpt` now, once per (epoch, step)."""
        moment = (trainer.current_epoch, trainer.global_step)
        if self._latest_saved_at == moment or trainer.sanity_checking or bool(trainer.fast_dev_run):
            return
        self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        self._latest_saved_at = moment

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self.save_latest(trainer)
