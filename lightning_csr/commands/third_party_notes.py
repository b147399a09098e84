"""Silence third-party notes that tell a user nothing actionable (every command, and `prepare`'s stage workers)."""

from __future__ import annotations

import logging
import warnings


def quiet_third_party_notes() -> None:
    """Silence notes that tell a user nothing actionable, printed on every CPU run.

    bitsandbytes' optional CPU kernel package; transformers' rename of a gradient-checkpointing property;
    Lightning's cloud-logger tip, its notes on its own pytree API and an absent validation set, the
    `weights_only` default of its checkpoint saving, its advice to checkpoint the pre-optimisation state under
    manual optimisation (PPO checkpoints a finished iteration on purpose), and its note that `ckpt_path: last`
    found nothing on a run's first start (the configs set it so that rerunning a command resumes).
    """
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    # logged (not warned) each time a checkpoint is saved
    logging.getLogger("lightning.pytorch.trainer.connectors.checkpoint_connector").addFilter(
        lambda record: "`weights_only` was not set" not in record.getMessage()
    )
    # logged at every trainer start: an advertisement for a cloud logger
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(lambda record: "litlogger" not in record.getMessage())
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    for note in (
        r".*isinstance\(treespec, LeafSpec\).*",
        r".*Total length of `list` across ranks is zero.*",
        r"Using ModelCheckpoint with manual optimization.*",
        r'.*ckpt_path="last"\) is set, but there is no last checkpoint available.*',
    ):
        warnings.filterwarnings("ignore", message=note)
