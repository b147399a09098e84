"""Every family loads in 4-bit on the CPU with only the language model quantised, and LoRA gets gradients."""

from __future__ import annotations

import pytest

from lightning_csr.backbones import LoraSettings, QuantizationSettings, build_backbone
from lightning_csr.modules.preference import PreferenceModule
from tests.backbones.conftest import fixed_batch
from tests.tiny_families import TINY_FAMILIES

bnb = pytest.importorskip("bitsandbytes")


@pytest.mark.parametrize("name", [n for n in TINY_FAMILIES if n != "llava"])  # llava: test_llava_qlora.py
def test_family_loads_in_4bit_and_lora_gets_gradients(name, tmp_path):
    builder, family = TINY_FAMILIES[name]
    backbone = build_backbone(
        family,
        model_id=str(builder(tmp_path)),
        quantization=QuantizationSettings(bits=4, compute_dtype="float32"),
        lora=LoraSettings(r=4, alpha=8),
    )
    module = PreferenceModule(backbone)
    module.configure_model()
    quantized = [n for n, m in module.policy.named_modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert quantized and all(backbone.is_frozen(n) is False for n in quantized)
    kept = backbone.vision_patterns + backbone.projector_patterns + ("lm_head",)
    assert not any(p in n for n in quantized for p in kept)
    batch = fixed_batch(backbone)
    batch["ids"] = ["a", "b"]
    module.forward_logps(module.policy, batch)["logps"].sum().backward()
    trainable = [p for p in module.policy.parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None for p in trainable)
