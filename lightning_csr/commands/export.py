"""`lightning-csr export`: a trained policy as a PEFT adapter and as a merged Hugging Face model with processor."""

from __future__ import annotations

import argparse
import copy
from collections.abc import Sequence
from pathlib import Path

import torch

from lightning_csr.backbones.settings import QuantizationSettings
from lightning_csr.modules.base import PolicyModule
from lightning_csr.modules.components.reference import REF_ADAPTER


def export_policy(module: PolicyModule, out_dir: str | Path, merge: bool = True) -> dict[str, Path]:
    """Save `adapter/` (PEFT format, when LoRA is used) and `merged/` (loadable by AutoModelForImageTextToText)."""
    out_dir = Path(out_dir)
    module.configure_model()
    policy, backbone = module.policy, module.backbone
    written: dict[str, Path] = {}
    is_peft = hasattr(policy, "peft_config")
    if is_peft:
        adapter_dir = out_dir / "adapter"
        policy.save_pretrained(adapter_dir, selected_adapters=["default"])
        backbone.processor.save_pretrained(adapter_dir)
        written["adapter"] = adapter_dir
    if not merge:
        return written
    merged = _merged_model(module, written.get("adapter")) if is_peft else copy.deepcopy(policy)
    merged_dir = out_dir / "merged"
    merged.save_pretrained(merged_dir)
    backbone.processor.save_pretrained(merged_dir)
    written["merged"] = merged_dir
    return written


def _merged_model(module: PolicyModule, adapter_dir: Path | None) -> torch.nn.Module:
    """Merge the LoRA weights into an unquantised base (merging into 4-bit weights would be lossy)."""
    backbone = module.backbone
    if backbone.quantization.bits is None:
        model = copy.deepcopy(module.policy)
        if REF_ADAPTER in model.peft_config:
            model.delete_adapter(REF_ADAPTER)
        return model.merge_and_unload()
    from peft import PeftModel

    full = copy.copy(backbone)
    full.quantization = QuantizationSettings()
    full.dtype = backbone.quantization.compute_dtype
    base = full.load_model()
    return PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()


def main(argv: Sequence[str]) -> None:
    """Write a run's policy as a PEFT adapter and a merged HF model directory."""
    from lightning_csr.evaluation.model_loading import find_checkpoint, find_run_config
    from lightning_csr.run_config import load_run

    parser = argparse.ArgumentParser(
        prog="lightning-csr export",
        description="`lightning-csr export --run RUN_DIR --out DIR` (or `--config CONFIG --ckpt_path CKPT`).",
    )
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
