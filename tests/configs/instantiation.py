"""Build a run from configs exactly as `lightning-csr fit` does, without training: LightningCLI with a Trainer whose
`fit` only records its arguments."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import yaml

from tests.paths import REPO

ROOT = REPO
CPU = ROOT / "configs" / "trainer" / "cpu.yaml"


class InstantiateOnlyTrainer(L.Trainer):
    """A Trainer whose `fit` records its keyword arguments (e.g. `ckpt_path`) instead of training."""

    @functools.wraps(L.Trainer.fit)
    def fit(self, *args: Any, **kwargs: Any) -> None:
        self.fit_kwargs = kwargs


def instantiate(args: Sequence[str], root_dir: Path | None, on_cpu: bool = True) -> Any:
    """`lightning-csr fit ARGS` built but not run, under `root_dir` unless None (and on the CPU preset unless
    told not to)."""
    from lightning_csr.run_config import CSRCli

    cpu = ["--trainer", str(CPU)] if on_cpu else []
    root = [] if root_dir is None else [f"--trainer.default_root_dir={root_dir}"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
        return CSRCli(
            args=["fit", *args, *cpu, *root],
            trainer_class=InstantiateOnlyTrainer,
            save_config_callback=None,
        )


def merged_config(cli: Any) -> dict[str, Any]:
    """The merged, interpolated config a CLI ran `fit` with, as plain data."""
    return cli.config["fit"].as_dict()


def printed_config(args: Sequence[str], capsys: Any) -> dict[str, Any]:
    """What `lightning-csr fit ARGS --print_config` prints (merged and interpolated; nothing is built)."""
    from lightning_csr.run_config import CSRCli

    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
        try:
            CSRCli(args=["fit", *args, "--print_config"])
        except SystemExit as exit_:
            assert not exit_.code, capsys.readouterr().err
    return yaml.safe_load(capsys.readouterr().out)
