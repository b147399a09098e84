"""The composed backbone: save/load round trip, config-built model, generation, projector kinds."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForImageTextToText

from lightning_csr.backbones.composed import ComposedBackbone, ComposedProcessor, ComposedVLM
from tests.backbones.conftest import make_images
from tests.tiny_families import tiny_composed


@pytest.fixture(scope="module")
def composed_dir(tmp_path_factory):
    return tiny_composed(tmp_path_factory.mktemp("composed"))


def test_save_load_round_trip_gives_same_logits(composed_dir, tmp_path):
    backbone = ComposedBackbone(model_id=str(composed_dir))
    model = backbone.load_model().eval()
    batch = backbone.model_inputs(backbone.collate(make_images(2), ["a", "b"], ["yes", "no"]))
    model.save_pretrained(tmp_path)
    backbone.processor.save_pretrained(tmp_path)
    reloaded = AutoModelForImageTextToText.from_pretrained(tmp_path).eval()  # registered on import
    assert isinstance(reloaded, ComposedVLM)
    assert ComposedProcessor.from_pretrained(tmp_path).num_image_tokens == backbone.processor.num_image_tokens
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, model(**batch).logits)


def test_config_built_model_matches_saved_layout(composed_dir):
    saved = ComposedVLM.from_pretrained(composed_dir)
    config = saved.config.to_dict()
    backbone = ComposedBackbone(config=config, processor_id=str(composed_dir))
    model = backbone.load_model()
    assert {n: p.shape for n, p in model.named_parameters()} == {
        n: p.shape for n, p in saved.named_parameters()
    }


def test_generate_feeds_pixels_only_in_prefill(composed_dir):
    backbone = ComposedBackbone(model_id=str(composed_dir))
    model = backbone.load_model().eval()
    calls, encode = [], model.vision_tower.forward_features
    model.vision_tower.forward_features = lambda pixels: calls.append(pixels.shape[0]) or encode(pixels)
    inputs = backbone.prompt_batch(make_images(2), ["Hi", "What is it?"])
    out = model.generate(
        **inputs, max_new_tokens=4, do_sample=False, pad_token_id=backbone.tokenizer.pad_token_id
    )
    assert out.shape == (2, inputs["input_ids"].shape[1] + 4)
    assert calls == [2]  # one encoder pass for the prefill, none for the 3 cached decoding steps
    assert model.config.num_image_tokens == backbone.processor.num_image_tokens == 4


def test_linear_projector_and_parts_validation(tmp_path):
    model = ComposedVLM.from_pretrained(tiny_composed(tmp_path, projector="linear"))
    assert isinstance(model.multi_modal_projector, torch.nn.Linear)
    with pytest.raises(ValueError, match="both"):
        ComposedBackbone(vision_model="vit_tiny_patch16_224")


@pytest.mark.parametrize("bits", [None, 4])
def test_parts_mode_adds_image_token_and_trains(tmp_path, bits):
    """Encoder and LM by name: the image token is added to the tokenizer, only the LM is quantised."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from lightning_csr.backbones import LoraSettings, QuantizationSettings
    from lightning_csr.modules.preference import PreferenceModule
    from tests.tiny_families import COMPOSED_TEMPLATE, TEXT_KV
    from tests.tiny_models import char_tokenizer

    tokenizer = char_tokenizer()
    tokenizer.chat_template = COMPOSED_TEMPLATE
    language_model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), **TEXT_KV))
    language_model.save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    backbone = ComposedBackbone(
        vision_model="vit_tiny_patch16_224",
        vision_kwargs={"img_size": 16, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2},
        language_model=str(tmp_path / "lm"),
        image_token="<img>",
        pretrained_vision=False,
        train_projector=True,
        quantization=QuantizationSettings(bits=bits, compute_dtype="float32"),
        lora=LoraSettings(r=4, alpha=8),
    )
    assert backbone.tokenizer.convert_tokens_to_ids("<img>") == len(tokenizer)  # added
    module = PreferenceModule(backbone)
    module.configure_model()
    batch = backbone.collate(make_images(2), ["a", "b"], ["yes", "no"], ids=["a", "b"])
    backbone.check_image_tokens(batch, ["a", "b"])
    batch["ids"] = ["a", "b"]
    module.forward_logps(module.policy, batch)["logps"].sum().backward()
    trainable = {n for n, p in module.policy.named_parameters() if p.requires_grad}
    assert any("multi_modal_projector" in n for n in trainable) and any("lora_" in n for n in trainable)
    assert not any("vision_tower" in n for n in trainable)
    if bits == 4:
        import bitsandbytes as bnb

        quantized = [n for n, m in module.policy.named_modules() if isinstance(m, bnb.nn.Linear4bit)]
        assert quantized and all("language_model.model.layers" in n for n in quantized)
