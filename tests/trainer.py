"""The tests' one hand-built Trainer: on the CPU and quiet (no logger, checkpoints, progress bar or summary)."""

from __future__ import annotations

from typing import Any

import lightning as L

QUIET = {
    "accelerator": "cpu",
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
}


def quiet_trainer(**overrides: Any) -> L.Trainer:
    """A quiet CPU `Trainer`; `overrides` set anything else (or turn a quiet default back on)."""
    return L.Trainer(**(QUIET | overrides))
