"""Which distributed strategies a backbone's quantisation can train under, refused at start instead of hanging.

Supported: one device, and DDP with any backbone (full precision, LoRA, 8-bit or 4-bit QLoRA: each rank holds
the whole model). FSDP with a 4-bit backbone only when the packed weights are stored in the compute dtype
(`quantization.quant_storage` = `compute_dtype`, so FSDP can flatten them with the rest); FSDP with 8-bit
weights never. DeepSpeed ZeRO-1/2 with any backbone (they shard optimizer state and gradients, i.e. LoRA's);
ZeRO-3 (sharded weights) only without bitsandbytes quantisation.
"""

from __future__ import annotations

from typing import Any

from lightning_csr.backbones.base import Backbone


def strategy_problem(strategy: Any, backbone: Backbone) -> str | None:
    """What is wrong with training `backbone` under `strategy` (a Lightning strategy), or None."""
    quantization = backbone.quantization
    bits = quantization.bits
    name = type(strategy).__name__
    if bits is None:
        return None
    if name == "FSDPStrategy":
        if bits == 8:
            return "FSDP cannot shard 8-bit (LLM.int8) weights: use strategy ddp, or 4-bit with quant_storage"
        if quantization.quant_storage != quantization.compute_dtype:
            return (
                f"FSDP with 4-bit weights needs the packed weights stored in the compute dtype: set "
                f"model.init_args.backbone.init_args.quantization.quant_storage: {quantization.compute_dtype} "
                f"(now {quantization.quant_storage}), or use strategy ddp"
            )
    if name == "DeepSpeedStrategy":
        stage = (getattr(strategy, "config", None) or {}).get("zero_optimization", {}).get("stage", 0)
        if stage == 3:
            return (
                f"DeepSpeed ZeRO-3 cannot shard {bits}-bit bitsandbytes weights: use ZeRO-2 or strategy ddp"
            )
    return None


def check_strategy(strategy: Any, backbone: Backbone) -> None:
    """Raise a one-line error naming the setting to change when the combination is not supported."""
    problem = strategy_problem(strategy, backbone)
    if problem is not None:
        raise ValueError(f"trainer.strategy {type(strategy).__name__}: {problem}")
