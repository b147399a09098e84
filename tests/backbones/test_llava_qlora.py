"""LLaVA in 4-bit QLoRA on the CPU: loaded from disk through from_pretrained, LoRA trains, the 4-bit base stays."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.backbones import LlavaBackbone, LoraSettings, QuantizationSettings
from lightning_csr.modules.preference import PreferenceModule
from tests.backbones.conftest import changed_parameters, fit, fixed_batch, reference_logits, snapshot
from tests.tiny_models import tiny_llava

bnb = pytest.importorskip("bitsandbytes")


def test_llava_qlora_fit_on_cpu(tmp_path, pairs_dir):
    torch.manual_seed(0)
    backbone = LlavaBackbone(
        model_id=str(tiny_llava(tmp_path / "llava")),
        quantization=QuantizationSettings(bits=4, compute_dtype="float32"),
        lora=LoraSettings(r=4, alpha=8),
    )
    module = PreferenceModule(backbone, optimizer=lambda params: torch.optim.AdamW(params, lr=1e-2))
    module.configure_model()
    quantized = [n for n, m in module.policy.named_modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert quantized and all("language_model" in n for n in quantized)
    # vision tower, projector and output head stay in full precision
    assert not any(p in n for n in quantized for p in ("vision_tower", "multi_modal_projector", "lm_head"))
    batch = fixed_batch(backbone)
    # bitsandbytes repacks 4-bit weights for the CPU kernels on the first forward: snapshot after it
    ref_before = reference_logits(module, batch)
    before = snapshot(module.policy)
    fit(module, pairs_dir, max_steps=2)
    changed = changed_parameters(before, module.policy)
    trainable = [n for n, (grad, _) in before.items() if grad]
    assert trainable and all(changed[n] for n in trainable)
    assert not [
        n for n, (grad, _) in before.items() if not grad and changed[n]
    ]  # packed 4-bit weights included
    assert torch.equal(reference_logits(module, batch), ref_before)
