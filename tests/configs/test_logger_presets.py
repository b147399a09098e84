"""The logger presets swap in for a method config's CSV logger with one argument, under the run directory, and
nothing of the CSV logger's settings carries over."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.configs.instantiation import ROOT, instantiate

LOGGERS = sorted((ROOT / "configs" / "logger").glob("*.yaml"))
METHOD = ROOT / "configs" / "dpo" / "shapeworld.yaml"  # its logger is csv.yaml
MODULES = {"TensorBoardLogger": "tensorboard", "WandbLogger": "wandb", "CSVLogger": None}


@pytest.mark.parametrize("preset", LOGGERS, ids=lambda p: p.stem)
def test_logger_preset_replaces_the_method_configs_logger(preset: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    class_name = yaml.safe_load(preset.read_text())["class_path"].rsplit(".", 1)[1]
    if MODULES[class_name]:
        pytest.importorskip(MODULES[class_name])
    cli = instantiate(["--config", str(METHOD), "--trainer.logger", str(preset)], tmp_path)
    logger = cli.trainer.logger
    assert type(logger).__name__ == class_name
    assert logger.save_dir == str(tmp_path)
    if class_name == "TensorBoardLogger":
        assert Path(logger.log_dir) == tmp_path / "tensorboard"  # `tensorboard --logdir <run>/tensorboard`
    if class_name == "WandbLogger":
        assert logger.name == "lightning_csr" and logger._wandb_init["name"] is None  # not csv.yaml's `logs`
        assert logger._wandb_init["dir"] == str(tmp_path)
