"""Family-only options: Qwen's pixel budget, Idefics3 image splitting, PaliGemma's prompt format."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.backbones.idefics3 import Idefics3Backbone
from lightning_csr.backbones.paligemma import PaliGemmaBackbone
from lightning_csr.backbones.qwen2_vl import Qwen2VLBackbone
from lightning_csr.modules.preference import PreferenceModule
from tests.backbones.conftest import make_images
from tests.tiny_families import tiny_idefics3, tiny_paligemma, tiny_qwen2_vl


def image_tokens(backbone, batch) -> list[int]:
    return (batch["input_ids"] == backbone.image_token_id).sum(dim=1).tolist()


def test_qwen_max_pixels_caps_image_tokens(tmp_path):
    directory = tiny_qwen2_vl(tmp_path)
    images = make_images(1, size=(32, 32))
    full = Qwen2VLBackbone(model_id=str(directory))
    capped = Qwen2VLBackbone(model_id=str(directory), max_pixels=16 * 16)
    assert image_tokens(full, full.collate(images, ["q"], ["a"])) == [16]
    batch = capped.collate(images, ["q"], ["a"])
    assert image_tokens(capped, batch) == [4]
    capped.check_image_tokens(batch)


@pytest.mark.parametrize(("splitting", "tiles"), [(False, 1), (True, 3)])
def test_idefics3_image_splitting(tmp_path, splitting, tiles):
    """A 32x16 image: one tile without splitting; two tiles plus the global view with it."""
    directory = tiny_idefics3(
        tmp_path, do_image_splitting=not splitting
    )  # the option overrides the checkpoint
    backbone = Idefics3Backbone(model_id=str(directory), do_image_splitting=splitting)
    batch = backbone.collate(make_images(2, size=(32, 16)), ["q", "r"], ["a", "b"], ids=["x", "y"])
    assert batch["pixel_values"].shape[1] == tiles
    assert batch["pixel_attention_mask"].shape[:2] == batch["pixel_values"].shape[:2]
    assert image_tokens(backbone, batch) == [4 * tiles] * 2
    backbone.check_image_tokens(batch, ["x", "y"])
    module = PreferenceModule(backbone)
    module.configure_model()
    batch["ids"] = ["x", "y"]
    assert torch.isfinite(module.forward_logps(module.policy, batch)["logps"]).all()


def test_paligemma_prompt_format(tmp_path):
    backbone = PaliGemmaBackbone(model_id=str(tiny_paligemma(tmp_path)), prompt_prefix="answer en ")
    batch = backbone.collate(make_images(1), ["what?"], ["red"])
    tokens = backbone.tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
    text = "".join(t for t in tokens if t != backbone.processor.image_token)
    assert tokens[:4] == [backbone.processor.image_token] * 4
    assert text == f"{backbone.tokenizer.bos_token}answer en what?\nred{backbone.tokenizer.eos_token}"
    assert batch["token_type_ids"][0].tolist() == [0] * (4 + 1 + len("answer en what?") + 1) + [1] * 4
