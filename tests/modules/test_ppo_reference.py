"""PPO reaches its reference through `Reference` like every module; it trains only (no validate or test)."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.modules.components.reference import Reference
from lightning_csr.modules.components.shared_adapters import REWARD, VALUE
from tests.backbones.conftest import make_images
from tests.modules.ppo_helpers import ppo_module


@pytest.mark.parametrize("mode", ["adapter_off", "ref_adapter"])
def test_ppo_reference_is_the_initial_policy_and_leaves_adapters_trainable(tiny_llava_dir, tmp_path, mode):
    module = ppo_module(tiny_llava_dir, tmp_path / "rollouts", reference=mode)
    module.configure_model()
    assert isinstance(module.reference, Reference) and module.reference.mode == mode
    policy, backbone = module.policy, module.backbone
    batch = backbone.model_inputs(
        backbone.collate(make_images(2), ["What is it?"] * 2, ["a red square", "one"])
    )
    with torch.no_grad():
        for name, param in policy.named_parameters():
            if ".default." in name and "lora_B" in name:
                param.normal_(std=0.5)  # the policy moves away from the base (and the `ref` copy of it)
        with policy.disable_adapter():
            base = policy(**batch).logits
        module.adapters.restore_flags()
        flags = {n: p.requires_grad for n, p in policy.named_parameters()}
        with module.reference.model(policy) as reference:
            from_reference = reference(**batch).logits
        moved = policy(**batch).logits
    assert {n: p.requires_grad for n, p in policy.named_parameters()} == flags
    trainable = {n for n, flag in flags.items() if flag}
    assert any(f".{VALUE}." in n for n in trainable) and any(".default." in n for n in trainable)
    assert not any(f".{REWARD}." in n or ".ref." in n for n in trainable)
    torch.testing.assert_close(from_reference, base)
    assert not torch.allclose(moved, base, atol=1e-3)
