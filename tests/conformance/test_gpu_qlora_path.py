"""The GPU benchmark's path on the CPU: real configs shrunk, random weights straight into 4-bit, our adapter with
LoRA and gradient checkpointing, an exact-length DPO pair, a DPO step, search against generate."""

from __future__ import annotations

import json
import math

import pytest
import torch

from lightning_csr.modules import PreferenceModule
from tests.conformance.real_checkpoints import REAL_FAMILIES, SHRINK, _shrunk_config
from tests.paths import REPO

bnb = pytest.importorskip("bitsandbytes")


@pytest.mark.parametrize(("family", "tokens"), [("llava", 640), ("qwen2_vl", 320)])
def test_random_4bit_dpo_step_and_search(family, tokens, real_dir, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from gpu_measures import dpo_batch, dpo_steps, search_vs_generate
    from gpu_qlora import MODELS
    from random_4bit import random_backbone

    folder = real_dir / REAL_FAMILIES[family][0]
    config = _shrunk_config(folder, SHRINK[family])
    (config.get("text_config") or config)["num_hidden_layers"] = 2
    (tmp_path / "config.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    backbone = random_backbone(family, folder, rank=4, device="cpu", config=tmp_path)
    module = PreferenceModule(backbone)
    module.configure_model()
    quantized = [m for m in module.policy.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(quantized) == 2 * 7 and module.policy.get_decoder().config.num_hidden_layers == 2
    size = MODELS[family][1]
    batch = dpo_batch(backbone, size, tokens)  # asserts both rows are exactly `tokens` long
    assert batch["completion_mask"][:, -1].all()
    before = {n: p.detach().clone() for n, p in module.policy.named_parameters() if p.requires_grad}
    stats = dpo_steps(module, batch, steps=1)
    assert math.isfinite(stats["loss"]) and stats["step_s"] > 0
    after = dict(module.policy.named_parameters())
    assert all(not torch.equal(p, after[n].detach()) for n, p in before.items() if "lora_A" in n)
    search = search_vs_generate(module.policy, backbone, size, prompts=2, candidates=2, max_new_tokens=12)
    assert search["search_tokens"] > 0 and search["generate_tokens"] >= search["search_tokens"]
