"""`lightning-csr fit|validate|test`: LightningCLI's subcommands over YAML configs."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lightning_csr.run_config import CSRCli


def run_subcommand(subcommand: str, argv: Sequence[str]) -> None:
    """Run one LightningCLI subcommand with its arguments."""
    args = [subcommand, *argv]
    # LightningCLI warns when given `args` while the process has them on its command line: let it read them
    CSRCli(args=None if sys.argv[1:] == args else args)


def fit(argv: Sequence[str]) -> None:
    """Train a module from YAML configs (LightningCLI's fit)."""
    run_subcommand("fit", argv)


def validate(argv: Sequence[str]) -> None:
    """Run a config's validation loop once (LightningCLI's validate)."""
    run_subcommand("validate", argv)


def test(argv: Sequence[str]) -> None:
    """Run a config's test loop once (LightningCLI's test)."""
    run_subcommand("test", argv)
