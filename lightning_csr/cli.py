"""`lightning-csr`: LightningCLI (fit/validate/test/predict) plus export, shapeworld and evaluate."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
import yaml
from lightning.pytorch.cli import LightningCLI

# subcommand -> "module:function(argv)"; imported lazily so `fit` does not pay for them
SUBCOMMANDS = {
    "export": "lightning_csr.cli:export_main",
    "shapeworld": "lightning_csr.shapeworld.commands.build:main",
    "evaluate": "lightning_csr.evaluation.runner:main",
    "povid": "lightning_csr.commands.povid_inject:main",
    "compare": "lightning_csr.shapeworld.comparison.run:main",
}


class CSRCli(LightningCLI):
    """LightningCLI whose YAML picks module, backbone and data by `class_path` (omegaconf interpolation on)."""

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


def _parser_kwargs() -> dict:
    common = {"parser_mode": "omegaconf+"}
    return {
        "default_config_files": [],
        **common,
        "fit": common,
        "validate": common,
        "test": common,
        "predict": common,
    }


def load_run(config_path: str | Path, overrides: Sequence[str] = ()) -> CSRCli:
    """Instantiate model, data and trainer from a config (e.g. a run's `config.yaml`) without running anything."""
    config = yaml.safe_load(Path(config_path).read_text())
    if not isinstance(config, dict):
        raise ValueError(f"{config_path}: not a LightningCLI config")
    config = {k: v for k, v in config.items() if k in ("seed_everything", "trainer", "model", "data")}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(config, handle)
    try:
        return CSRCli(args=["--config", handle.name, *overrides], run=False, save_config_callback=None)
    finally:
        Path(handle.name).unlink(missing_ok=True)


def export_main(argv: Sequence[str]) -> None:
    """`lightning-csr export --run RUN_DIR --out DIR` (or `--config CONFIG --ckpt_path CKPT`)."""
    from lightning_csr.commands.export import export_policy
    from lightning_csr.evaluation.model_loading import find_checkpoint, find_run_config

    parser = argparse.ArgumentParser(prog="lightning-csr export", description=export_main.__doc__)
    parser.add_argument("--run", default=None, help="a run directory: its saved config and its last.ckpt")
    parser.add_argument("--config", default=None, help="a saved LightningCLI config.yaml (instead of --run)")
    parser.add_argument("--ckpt_path", default=None, help="checkpoint with the trained weights")
    parser.add_argument("--out", required=True, help="output directory (adapter/ and merged/)")
    parser.add_argument("--no-merge", action="store_true", help="write the adapter only")
    args = parser.parse_args(argv)
    if (args.run is None) == (args.config is None):
        parser.error("give either --run RUN_DIR or --config CONFIG")
    config, ckpt_path = args.config, args.ckpt_path
    if args.run is not None:
        run = Path(args.run)
        config = find_run_config(run)
        ckpt_path = ckpt_path or find_checkpoint(run)
    module = load_run(config).model
    module.configure_model()
    if ckpt_path:
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)["state_dict"]
        missing = set(state) - set(module.state_dict())
        if missing:
            raise KeyError(f"{ckpt_path}: keys not in the model: {sorted(missing)[:5]}")
        module.load_state_dict(state, strict=False)
    written = export_policy(module, args.out, merge=not args.no_merge)
    print(f"exported {ckpt_path or 'the initial weights'} of {config}")
    for kind, path in written.items():
        print(f"{kind}: {path}")


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


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `lightning-csr` console script."""
    quiet_third_party_notes()
    from_command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        module, func = SUBCOMMANDS[argv[0]].split(":")
        getattr(importlib.import_module(module), func)(argv[1:])
        return
    # LightningCLI warns when given `args` while the process has command-line arguments: let it read them
    CSRCli(args=None if from_command_line else argv)


if __name__ == "__main__":
    main()
