"""Initial weights drawn from the run's seed alone, whatever ran before and however many processes run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def seeded_from_run() -> Iterator[None]:
    """Run the block with the random generators seeded from `seed_everything`'s seed, then restore them.

    Lightning's DDP re-seeds every process between building the module and `configure_model`, a one-process run
    does not: without this the LoRA initialisation (and so every later iteration) would depend on the number of
    processes. Without a run seed (`PL_GLOBAL_SEED` unset) the block runs as it is.
    """
    seed = os.environ.get("PL_GLOBAL_SEED")
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count()))):
        torch.manual_seed(int(seed))
        yield
