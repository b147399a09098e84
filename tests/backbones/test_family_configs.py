"""The per-family QLoRA DPO configs parse and instantiate through the CLI (on the CPU, nothing loaded)."""

from __future__ import annotations

import pytest

from lightning_csr.run_config import CSRCli
from tests.paths import REPO

CONFIGS = REPO / "configs" / "dpo"
FAMILY_CONFIGS = {
    "llava15_7b_qlora.yaml": ("llava", "llava-hf/llava-1.5-7b-hf"),
    "llava_next_7b_qlora.yaml": ("llava_next", "llava-hf/llava-v1.6-mistral-7b-hf"),
    "qwen2vl_2b_qlora.yaml": ("qwen2_vl", "Qwen/Qwen2-VL-2B-Instruct"),
    "qwen25vl_3b_qlora.yaml": ("qwen2_vl", "Qwen/Qwen2.5-VL-3B-Instruct"),
    "smolvlm_qlora.yaml": ("idefics3", "HuggingFaceTB/SmolVLM-Instruct"),
    "paligemma_3b_qlora.yaml": ("paligemma", "google/paligemma-3b-mix-224"),
    "composed_qlora.yaml": ("composed", "Qwen/Qwen2.5-1.5B-Instruct"),
}
# family-only init args the configs set
FAMILY_OPTIONS = {
    "qwen2vl_2b_qlora.yaml": {"max_pixels": 401408},
    "qwen25vl_3b_qlora.yaml": {"max_pixels": 401408},
    "smolvlm_qlora.yaml": {"do_image_splitting": False},
    "paligemma_3b_qlora.yaml": {"prompt_prefix": "answer en "},
    "composed_qlora.yaml": {"vision_model": "vit_large_patch14_clip_336.openai", "train_projector": True},
}


@pytest.mark.parametrize("name", sorted(FAMILY_CONFIGS))
def test_family_config_instantiates(name, tmp_path):
    family, model_id = FAMILY_CONFIGS[name]
    cli = CSRCli(
        args=[
            "--config",
            str(CONFIGS / name),
            "--trainer.accelerator=cpu",
            "--trainer.precision=32-true",
            f"--trainer.default_root_dir={tmp_path}",
        ],
        run=False,
    )
    backbone = cli.model.backbone
    assert backbone.family == family and backbone.model_id == model_id
    assert backbone.quantization.bits == 4 and backbone.quantization.quant_type == "nf4"
    assert backbone.quantization.double_quant and backbone.quantization.compute_dtype == "bfloat16"
    assert backbone.lora.r == 64 and backbone.lora.alpha == 128 and backbone.gradient_checkpointing
    bnb = backbone.quantization.to_bnb(backbone.unquantized_modules())
    assert bnb.load_in_4bit and bnb.bnb_4bit_use_double_quant
    for option, value in FAMILY_OPTIONS.get(name, {}).items():
        assert getattr(backbone, option) == value, option
