"""`ReferenceSyncCallback`: the reference of iteration k+1 is the policy at the end of iteration k."""

from __future__ import annotations

import lightning as L


class ReferenceSyncCallback(L.Callback):
    """Copies the policy adapter into the frozen `ref` adapter (or a frozen copy) after every epoch.

    Iteration 1 uses the base model as reference (the `ref` adapter starts equal to the fresh adapter).
    """

    def __init__(self) -> None:
        self.synced_epoch = -1

    def ensure_synced(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Sync once per finished epoch, whichever callback asks first."""
        if self.synced_epoch == trainer.current_epoch:
            return
        pl_module.sync_reference()
        self.synced_epoch = trainer.current_epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.ensure_synced(trainer, pl_module)
