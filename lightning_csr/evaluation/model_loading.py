"""Resolve `--model` (an HF directory, a base model + PEFT adapter, or a CSR run directory) to a loaded policy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from lightning_csr.backbones import build_backbone
from lightning_csr.backbones.base import Backbone
from lightning_csr.evaluation.model_files import (
    ModelDirError,
    check_hf_dir,
    family_for_model_type,
    has_processor,
    model_family,
)
from lightning_csr.run_config import load_run

EXPORT_DIRS = ("export/merged", "merged")


@dataclass
class LoadedModel:
    """A policy ready for generation, its backbone adapter and where it came from."""

    model: torch.nn.Module
    backbone: Backbone
    description: str
    run_dir: Path | None = None


def is_run_dir(path: Path) -> bool:
    """A CSR/DPO run directory: per-iteration outputs, checkpoints or a saved LightningCLI config."""
    return (
        path.is_dir()
        and not (path / "config.json").exists()
        and (
            (path / "iterations").is_dir()
            or (path / "checkpoints").is_dir()
            or (path / "config.yaml").is_file()
        )
    )


def load_hf_dir(path: str | Path, dtype: str = "float32") -> LoadedModel:
    """A saved HF VLM directory (e.g. `lightning-csr export`'s `merged/`) through its backbone adapter."""
    path = Path(path)
    backbone = build_backbone(check_hf_dir(path), model_id=str(path), dtype=dtype)
    return LoadedModel(backbone.load_model().eval(), backbone, f"{backbone.family}:{path}")


def load_with_adapter(base: str, adapter: str | Path, dtype: str = "float32") -> LoadedModel:
    """A base model (HF directory or Hub id) with a PEFT LoRA adapter on top."""
    from peft import PeftModel
    from transformers import AutoConfig

    adapter = Path(adapter)
    if not (adapter / "adapter_config.json").is_file():
        raise ModelDirError(f"{adapter} is not a PEFT adapter directory: no adapter_config.json")
    if Path(base).is_dir():
        family = check_hf_dir(Path(base)) if not has_processor(adapter) else model_family(Path(base))
    else:
        family = family_for_model_type(AutoConfig.from_pretrained(base).model_type)
    processor_id = str(adapter) if has_processor(adapter) else base
    backbone = build_backbone(family, model_id=base, processor_id=processor_id, dtype=dtype)
    backbone.processor  # noqa: B018 - fail early with a clear error when no processor can be loaded
    model = PeftModel.from_pretrained(backbone.load_model(), str(adapter)).eval()
    return LoadedModel(model, backbone, f"{family}:{base} + adapter {adapter}")


def find_run_config(run_dir: Path) -> Path:
    """The run's saved LightningCLI config: `<run>/config.yaml`, else the newest one below the run."""
    if (run_dir / "config.yaml").is_file():
        return run_dir / "config.yaml"
    found = sorted(run_dir.rglob("config.yaml"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise ModelDirError(
            f"{run_dir}: no config.yaml (the LightningCLI config saved by `lightning-csr fit`)"
        )
    return found[-1]


def find_checkpoint(run_dir: Path) -> Path:
    """`checkpoints/last.ckpt`, else the newest `*.ckpt` below the run."""
    if (run_dir / "checkpoints" / "last.ckpt").is_file():
        return run_dir / "checkpoints" / "last.ckpt"
    found = sorted(run_dir.rglob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise ModelDirError(f"{run_dir}: no checkpoint (*.ckpt) and no exported model (export/merged)")
    return found[-1]


def load_run_policy(run_dir: str | Path, checkpoint: str | Path | None = None) -> LoadedModel:
    """The final policy of a run: its exported `merged/` directory, else config.yaml + the last checkpoint."""
    run_dir = Path(run_dir)
    if checkpoint is None:
        for name in EXPORT_DIRS:
            if (run_dir / name / "config.json").is_file():
                loaded = load_hf_dir(run_dir / name)
                loaded.run_dir = run_dir
                return loaded
    config = find_run_config(run_dir)
    checkpoint = Path(checkpoint) if checkpoint else find_checkpoint(run_dir)
    overrides = ["--trainer.logger=false"] + (
        [] if torch.cuda.is_available() else ["--trainer.accelerator=cpu"]
    )
    module = load_run(config, overrides).model
    module.configure_model()
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    unknown = set(state) - set(module.state_dict())
    if unknown:
        raise ModelDirError(f"{checkpoint}: keys not in the model built from {config}: {sorted(unknown)[:5]}")
    module.load_state_dict(state, strict=False)
    policy = module.policy.eval()
    if hasattr(policy, "set_adapter") and "default" in getattr(policy, "peft_config", {}):
        policy.set_adapter("default")
    return LoadedModel(policy, module.backbone, f"run {run_dir} ({checkpoint.name})", run_dir)


def load_model(model: str, adapter: str | None = None, checkpoint: str | None = None) -> LoadedModel:
    """Load what `--model` (and `--adapter` / `--checkpoint`) names, on the GPU when there is one."""
    path = Path(model)
    if adapter is not None:
        loaded = load_with_adapter(model, adapter)
    elif is_run_dir(path):
        loaded = load_run_policy(path, checkpoint)
    elif path.exists():
        loaded = load_hf_dir(path)
    else:
        raise ModelDirError(
            f"{model} does not exist: give an HF model directory, a run directory, or a base id with --adapter"
        )
    if torch.cuda.is_available() and next(loaded.model.parameters()).device.type == "cpu":
        loaded.model.to("cuda")
    return loaded
