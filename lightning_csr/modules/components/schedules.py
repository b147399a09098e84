"""Learning-rate schedules that need the run's total step count (LightningCLI callables).

The step counts are attributes of the scheduler, so they travel in its `state_dict`: a resumed run continues the
schedule it was on, whatever count the freshly built scheduler was given.
"""

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
        self.total_steps = max(int(total_steps), 1)
        self.warmup_steps = int(round(self.total_steps * warmup_ratio))
        self.min_lr_ratio = min_lr_ratio
        super().__init__(optimizer, lambda step: self.factor(step))

    def factor(self, step: int) -> float:
        """The learning-rate multiplier at `step` (0-based)."""
        warmup, total = self.warmup_steps, self.total_steps
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class Constant(LambdaLR):
    """A constant learning rate (total steps ignored)."""

    def __init__(self, optimizer: Optimizer, total_steps: int = 0):
        super().__init__(optimizer, lambda _: 1.0)
