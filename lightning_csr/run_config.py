"""`CSRCli`, the LightningCLI that builds every run from YAML, and `load_run`, which builds one without running it."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import yaml
from lightning.pytorch.cli import LightningCLI

from lightning_csr.errors import UserError

PARSER_MODE = "omegaconf+"  # interpolation resolved after all configs are merged


class CSRCli(LightningCLI):
    """LightningCLI whose YAML picks module, backbone and data by `class_path` (omegaconf interpolation on).

    Its subcommands are `fit`, `validate` and `test`; `predict` is left out (no module predicts).
    """

    def __init__(self, args: Sequence[str] | None = None, run: bool = True, **kwargs) -> None:
        super().__init__(
            L.LightningModule,
            L.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            parser_kwargs=_parser_kwargs(),
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,
            args=args,
            run=run,
            **kwargs,
        )

    def instantiate_classes(self) -> None:
        """Build model, data and trainer; a class refusing its settings is a `ConfigError` (one line in the CLI)."""
        try:
            super().instantiate_classes()
        except (ValueError, TypeError, KeyError, ImportError, AttributeError) as err:
            if isinstance(err, UserError):
                raise
            raise ConfigError(str(err).strip("'\"")) from err

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """LightningCLI's subcommands less `predict`."""
        return {name: skip for name, skip in LightningCLI.subcommands().items() if name != "predict"}


class ConfigError(UserError):
    """A config value the classes refuse (out of range, unknown name, wrong type)."""


def _parser_kwargs() -> dict:
    # parse errors are raised (`ArgumentError`), so that the CLI prints them as one line
    common = {"parser_mode": PARSER_MODE, "exit_on_error": False}
    return {
        "prog": "lightning-csr",
        "default_config_files": [],
        **common,
        **{name: common for name in CSRCli.subcommands()},
    }


def load_run(config_path: str | Path, overrides: Sequence[str] = ()) -> CSRCli:
    """Instantiate model, data and trainer from a config (e.g. a run's `config.yaml`) without running anything."""
    config = yaml.safe_load(Path(config_path).read_text())
    if not isinstance(config, dict):
        raise ValueError(f"{config_path}: not a LightningCLI config")
    config = {k: v for k, v in config.items() if k in ("seed_everything", "trainer", "model", "data")}
    # beside the config, so that the files it includes by relative path resolve as from the config itself
    directory = Path(config_path).resolve().parent
    with tempfile.NamedTemporaryFile(
        "w", suffix=".yaml", prefix=".load_run-", dir=directory, delete=False
    ) as handle:
        yaml.safe_dump(config, handle)
    try:
        return CSRCli(args=["--config", handle.name, *overrides], run=False, save_config_callback=None)
    finally:
        Path(handle.name).unlink(missing_ok=True)
