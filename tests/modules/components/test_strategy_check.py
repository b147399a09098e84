"""Unsupported strategy/quantisation combinations are a one-line error at start, before any weight is loaded."""

from __future__ import annotations

import pytest
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy

from lightning_csr.backbones import LlavaBackbone
from lightning_csr.backbones.settings import QuantizationSettings
from lightning_csr.modules.components.strategy_check import check_strategy, strategy_problem


class ZeRO:
    """Stands in for Lightning's DeepSpeedStrategy (deepspeed is not installed here): its name and config."""

    def __init__(self, stage: int) -> None:
        self.config = {"zero_optimization": {"stage": stage}}


ZeRO.__name__ = "DeepSpeedStrategy"


def backbone(**quantization) -> LlavaBackbone:
    settings = QuantizationSettings(**quantization) if quantization else None
    return LlavaBackbone(model_id="unused", quantization=settings)


def test_ddp_takes_every_backbone_and_unquantised_ones_go_anywhere():
    for strategy in (DDPStrategy(), FSDPStrategy(), ZeRO(3)):
        assert strategy_problem(strategy, backbone()) is None
    for bits in (4, 8):
        assert strategy_problem(DDPStrategy(), backbone(bits=bits)) is None
        assert strategy_problem(ZeRO(2), backbone(bits=bits)) is None


def test_fsdp_with_4_bit_needs_the_storage_dtype_and_never_takes_8_bit():
    with pytest.raises(ValueError, match=r"quantization.quant_storage: bfloat16 \(now None\)"):
        check_strategy(FSDPStrategy(), backbone(bits=4))
    assert strategy_problem(FSDPStrategy(), backbone(bits=4, quant_storage="bfloat16")) is None
    assert "8-bit" in strategy_problem(FSDPStrategy(), backbone(bits=8))
    assert "ZeRO-3" in strategy_problem(ZeRO(3), backbone(bits=4))


def test_the_storage_dtype_reaches_bitsandbytes():
    config = QuantizationSettings(bits=4, quant_storage="bfloat16").to_bnb()
    assert str(config.bnb_4bit_quant_storage) in ("bfloat16", "torch.bfloat16")


def test_a_module_refuses_the_combination_at_setup_before_loading_weights():
    from types import SimpleNamespace

    from lightning_csr.modules import PreferenceModule

    module = PreferenceModule(backbone(bits=4))
    module._trainer = SimpleNamespace(strategy=FSDPStrategy(), datamodule=None)
    with pytest.raises(ValueError, match="quant_storage"):
        module.setup("fit")
    assert module.policy is None
