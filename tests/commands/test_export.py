"""Hand-off: `export`'s merged/ directory loads and generates with plain transformers Auto classes.

That is how lmms-eval's `llava_hf` model and VLMEvalKit load a checkpoint: `AutoProcessor` plus the model class,
the processor's chat template for the prompt, and `generate`.
"""

from __future__ import annotations

import torch
from PIL import Image

from lightning_csr.backbones import LlavaBackbone, LoraSettings
from lightning_csr.commands.export import export_policy
from lightning_csr.evaluation.model_loading import load_hf_dir
from lightning_csr.generation.greedy import generate_answers
from lightning_csr.modules import PreferenceModule


def test_merged_export_loads_and_generates_with_auto_classes(tiny_llava_dir, tmp_path) -> None:
    from transformers import AutoModelForImageTextToText, AutoProcessor, LlavaForConditionalGeneration

    module = PreferenceModule(LlavaBackbone(model_id=str(tiny_llava_dir), lora=LoraSettings(r=4, alpha=8)))
    module.configure_model()
    torch.manual_seed(0)
    with torch.no_grad():  # a non-zero LoRA update, so the merge matters
        for name, param in module.policy.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    written = export_policy(module, tmp_path / "export")

    merged = written["merged"]
    model = AutoModelForImageTextToText.from_pretrained(merged).eval()
    processor = AutoProcessor.from_pretrained(merged)
    assert isinstance(model, LlavaForConditionalGeneration)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe it."}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    image = Image.new("RGB", (32, 32), (200, 30, 30))
    inputs = processor(images=[image], text=[prompt], return_tensors="pt")
    with torch.no_grad():
        output = model.generate(**inputs, do_sample=False, max_new_tokens=4)
    new_tokens = output[0, inputs["input_ids"].shape[1] :]
    assert len(new_tokens) >= 1
    processor.decode(new_tokens, skip_special_tokens=True)

    # the runner loads the same directory and generates what the trained policy generates
    loaded = load_hf_dir(merged)
    module.policy.eval()
    expected = generate_answers(module.policy, module.backbone, [image], ["Describe it."], max_new_tokens=4)
    assert (
        generate_answers(loaded.model, loaded.backbone, [image], ["Describe it."], max_new_tokens=4)
        == expected
    )
