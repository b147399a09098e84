"""`UserError`: what a user can fix (bad input, a bad setting, a missing file); the CLI prints it as one line."""

from __future__ import annotations

import shlex
import sys


class UserError(Exception):
    """An error in the user's input or settings, not in the code: its message alone says what to do."""


class NonFiniteLossError(UserError, FloatingPointError):
    """The loss became NaN or infinite during training."""


def resume_command() -> str:
    """This process's command line with `--ckpt_path last` appended (later arguments win in LightningCLI)."""
    args = list(sys.argv[1:])
    return shlex.join(["lightning-csr", *args, "--ckpt_path", "last"])


def non_finite_loss(value: float, where: str, ids: object) -> NonFiniteLossError:
    """The error for a NaN/inf loss at `where` (e.g. "global step 3"): what to try next."""
    return NonFiniteLossError(
        f"non-finite loss {value} at {where} (batch ids {ids}): lower the learning rate "
        "(model.init_args.optimizer.init_args.lr), clip gradients (trainer.gradient_clip_val=1.0) or train in "
        "32-true precision; checkpoints already written are kept"
    )
