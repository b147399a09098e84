"""Write a trained policy as a PEFT adapter and as a merged Hugging Face model directory with processor."""

from __future__ import annotations

import copy
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
