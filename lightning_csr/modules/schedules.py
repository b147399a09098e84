"""Learning-rate schedules that need the run's total step count (LightningCLI callables)."""

from __future__ import annotations

import math
from collections.abc import Callable

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

SchedulerCallable = Callable[[Optimizer, int], LRScheduler]


class WarmupCosine(LambdaLR):
    """Linear warm-up over `warmup_ratio` of the steps, then cosine decay to `min_lr_ratio`."""

    def __init__(
        self, optimizer: Optimizer, total_steps: int, warmup_ratio: float = 0.03, min_lr_ratio: float = 0.0
    ):
        if not 0.0 <= warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio: must be in [0, 1), got {warmup_ratio}")
        total = max(int(total_steps), 1)
        warmup = int(round(total * warmup_ratio))

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            progress = min((step - warmup) / max(total - warmup, 1), 1.0)
            return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

        super().__init__(optimizer, factor)


class Constant(LambdaLR):
    """A constant learning rate (total steps ignored)."""

    def __init__(self, optimizer: Optimizer, total_steps: int = 0):
        super().__init__(optimizer, lambda _: 1.0)
