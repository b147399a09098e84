"""Every backbone family: collate side inputs, completion mask, a LoRA DPO fit, image-token checks, registry."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.backbones import (
    BACKBONES,
    ImageTokenMismatchError,
    LoraSettings,
    backbone_class,
    build_backbone,
)
from lightning_csr.modules.preference import PreferenceModule
from tests.backbones.conftest import (
    changed_parameters,
    fit,
    fixed_batch,
    make_images,
    reference_logits,
    snapshot,
)
from tests.tiny_families import TINY_FAMILIES

FAMILIES = list(TINY_FAMILIES)

# side inputs each family's forward needs besides input_ids / attention_mask
SIDE_INPUTS = {
    "llava": {"pixel_values"},
    "llava_next": {"pixel_values", "image_sizes"},
    "qwen2_vl": {"pixel_values", "image_grid_thw", "mm_token_type_ids"},
    "qwen25_vl": {"pixel_values", "image_grid_thw", "mm_token_type_ids"},
    "idefics3": {"pixel_values", "pixel_attention_mask"},
    "paligemma": {"pixel_values", "token_type_ids"},
    "composed": {"pixel_values"},
}
END_OF_TURN = {"qwen2_vl": "<|im_end|>", "qwen25_vl": "<|im_end|>", "idefics3": "<end_of_utterance>"}


@pytest.fixture(scope="module", params=FAMILIES)
def family(request, tmp_path_factory):
    """(family name, saved model directory)."""
    builder, _ = TINY_FAMILIES[request.param]
    return request.param, builder(tmp_path_factory.mktemp(request.param))


def backbone_for(family, **kwargs):
    name, directory = family
    return build_backbone(TINY_FAMILIES[name][1], model_id=str(directory), **kwargs)


def test_collate_side_inputs_and_completion_mask(family):
    name, _ = family
    backbone = backbone_for(family)
    responses = ["a red square", "no"]
    batch = backbone.collate(make_images(2, size=(16, 24)), ["What is it?", "Hi"], responses, ids=["a", "b"])
    assert SIDE_INPUTS[name] <= set(batch), f"{name}: missing {SIDE_INPUTS[name] - set(batch)}"
    end_of_turn = backbone.tokenizer.convert_tokens_to_ids(
        END_OF_TURN.get(name, backbone.tokenizer.eos_token)
    )
    assert backbone.end_of_turn_id == end_of_turn
    prompt = backbone.prompt_batch(make_images(2, size=(16, 24)), ["What is it?", "Hi"])
    for row, response in enumerate(responses):
        expected = backbone.tokenizer(response, add_special_tokens=False)["input_ids"] + [end_of_turn]
        completion = batch["completion_mask"][row].bool()
        assert batch["input_ids"][row][completion].tolist() == expected
        # the completion is one contiguous block right after the untruncated prompt
        start = int(prompt["attention_mask"][row].sum())
        assert completion.nonzero().flatten().tolist() == list(range(start, start + len(expected)))
        assert int(batch["attention_mask"][row].sum()) == start + len(expected)
    if name == "paligemma":  # prefix-LM: 0 on image + prompt, 1 on the response
        attended = batch["attention_mask"].bool()
        assert torch.equal(
            batch["token_type_ids"][attended].bool(), batch["completion_mask"][attended].bool()
        )
    backbone.check_image_tokens(batch, ["a", "b"])


def test_dpo_fit_lora_changes_only_trainable(family, pairs_dir):
    torch.manual_seed(0)
    backbone = backbone_for(family, lora=LoraSettings(r=4, alpha=8), gradient_checkpointing=True)
    module = PreferenceModule(backbone, optimizer=lambda params: torch.optim.AdamW(params, lr=1e-2))
    module.configure_model()
    batch = fixed_batch(backbone)
    before, ref_before = snapshot(module.policy), reference_logits(module, batch)
    trainer = fit(module, pairs_dir)
    assert trainer.global_step == 3
    changed = changed_parameters(before, module.policy)
    trainable = [n for n, (grad, _) in before.items() if grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert all(changed[n] for n in trainable), [n for n in trainable if not changed[n]]
    assert not any(changed[n] for n, (grad, _) in before.items() if not grad)
    assert torch.equal(reference_logits(module, batch), ref_before)
    # LoRA sits on the language model only: vision tower and projector carry no adapter
    patterns = backbone.vision_patterns + backbone.projector_patterns
    assert not any(p in n for n in trainable for p in patterns)


def test_image_token_mismatch_names_the_sample(family):
    backbone = backbone_for(family)
    batch = backbone.collate(make_images(2), ["What is it?", "Hi"], ["yes", "no"], ids=["a", "b"])
    row = batch["input_ids"][1]
    first = (row == backbone.image_token_id).nonzero()[0, 0]
    row[first] = backbone.tokenizer.convert_tokens_to_ids("x")
    with pytest.raises(ImageTokenMismatchError, match="'b'"):
        backbone.check_image_tokens(batch, ["a", "b"])
    module = PreferenceModule(backbone)
    module.configure_model()
    batch["ids"] = ["a", "b"]
    with pytest.raises(ImageTokenMismatchError):
        module.forward_logps(module.policy, batch)


def test_response_with_image_token_is_rejected(family):
    backbone = backbone_for(family)
    token = backbone.tokenizer.convert_ids_to_tokens(backbone.image_token_id)
    with pytest.raises(ImageTokenMismatchError, match="sample b"):
        backbone.collate(make_images(2), ["p", "q"], ["fine", f"bad {token}"], ids=["a", "b"])


def test_unknown_backbone_lists_known_ones():
    with pytest.raises(KeyError) as err:
        build_backbone("llava_17", model_id="x")
    assert all(name in str(err.value) for name in BACKBONES)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_registered_backbone_imports(name):
    cls = backbone_class(name)
    assert cls.family == name
    assert "/" in (cls.__doc__ or ""), f"{cls.__name__}: the docstring should name real checkpoints"


def test_completion_logps_do_not_depend_on_padding(family):
    """A row scores the same alone and right-padded next to a longer row (positions, masks, side inputs)."""
    torch.manual_seed(0)
    backbone = backbone_for(family)
    module = PreferenceModule(backbone)
    module.configure_model()
    images = make_images(2)
    pair = backbone.collate(
        images, ["Hi", "What is in this picture?"], ["no", "a red square"], ids=["a", "b"]
    )
    alone = backbone.collate(images[:1], ["Hi"], ["no"], ids=["a"])
    with torch.no_grad():
        batched = module.forward_logps(module.policy, pair)["logps"][0]
        single = module.forward_logps(module.policy, alone)["logps"][0]
    torch.testing.assert_close(batched, single, atol=1e-4, rtol=1e-4)


def test_config_built_model_has_the_checkpoint_layout(family):
    """`config` + `processor_id` (randomly initialised, tests only) builds the same architecture as the checkpoint."""
    name, directory = family
    saved = backbone_for(family).load_model()
    built = build_backbone(
        TINY_FAMILIES[name][1], config=str(directory), processor_id=str(directory)
    ).load_model()
    assert type(built) is type(saved)
    assert {n: p.shape for n, p in built.named_parameters()} == {
        n: p.shape for n, p in saved.named_parameters()
    }
