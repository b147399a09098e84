"""What the callbacks of an iterative run share: counting finished iterations, and evaluators they call in order.

An iteration ends in a fixed order, whatever the order of the callbacks in a config: the reference is synced,
`last.ckpt` is written, the iteration is evaluated, and only then is the next iteration's data generated. A run
killed at any point after the checkpoint resumes from it and redoes nothing that finished.
"""

from __future__ import annotations

from typing import Any

import lightning as L


def epochs_done(trainer: L.Trainer) -> int:
    """Epochs whose training finished, during a fit (1 inside the first epoch's `on_train_epoch_end`)."""
    return int(trainer.fit_loop.epoch_progress.current.processed)


class IterationState(L.Callback):
    """Keeps, in every checkpoint, how many epochs had finished when it was written.

    Lightning restores its loops only after `on_fit_start`; this state is restored before, so the hooks that
    resume work at fit start know which iteration the checkpoint ended (`resumed_epochs`, 0 on a fresh start).
    """

    _trainer: L.Trainer | None = None
    resumed_epochs: int = 0

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        return {"epochs_done": epochs_done(self._trainer) if self._trainer is not None else 0}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.resumed_epochs = int(state_dict.get("epochs_done", 0))


class IterationEvaluator(IterationState):
    """A callback that evaluates the policy once per finished iteration (0 = the starting policy).

    Subclasses implement `evaluate(pl_module, iteration)` (idempotent: a finished evaluation is read back) and may
    narrow `due`. The hooks evaluate the starting policy at fit start, the iteration a resumed run stopped after
    (if its evaluation was cut short), and every iteration as it ends.

    `evaluate` runs on global rank 0 only, unless the subclass sets `sharded = True`: then it runs on every rank
    (each generating its slice, e.g. through `lightning_csr.distributed.map_by_batches`) and writes its files on
    rank 0 only.
    """

    sharded: bool = False

    def due(self, trainer: L.Trainer, iteration: int) -> bool:
        """Whether `iteration` is evaluated at all."""
        return True

    def evaluate(self, pl_module: L.LightningModule, iteration: int) -> dict[str, Any]:
        raise NotImplementedError

    def log_metrics(self, pl_module: L.LightningModule, metrics: dict[str, Any]) -> None:
        """Log what the logger should see after an iteration (nothing by default)."""

    def evaluate_iteration(
        self, trainer: L.Trainer, pl_module: L.LightningModule, iteration: int, log: bool = False
    ) -> None:
        """Evaluate `iteration` when due (on rank 0, or on every rank if `sharded`); `log` it at an epoch's end."""
        if not (self.due(trainer, iteration) and (self.sharded or trainer.is_global_zero)):
            return
        metrics = self.evaluate(pl_module, iteration)
        if log:
            self.log_metrics(pl_module, metrics)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.evaluate_iteration(trainer, pl_module, self.resumed_epochs)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.evaluate_iteration(trainer, pl_module, trainer.current_epoch + 1, log=True)


def finish_iteration(
    trainer: L.Trainer, pl_module: L.LightningModule, iteration: int, at_epoch_end: bool
) -> None:
    """At an epoch's end: write `last.ckpt`, then evaluate; at a (resumed) fit start: evaluate only.

    Each step is skipped when already done, so the callbacks' own hooks running later only log.
    """
    from lightning_csr.callbacks.latest_checkpoint import LatestCheckpoint

    if at_epoch_end:
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, LatestCheckpoint):
                callback.save_latest(trainer)
    for callback in trainer.callbacks:
        if isinstance(callback, IterationEvaluator):
            callback.evaluate_iteration(trainer, pl_module, iteration)
