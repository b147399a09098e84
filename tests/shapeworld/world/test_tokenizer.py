"""The ShapeWorld processor: save/load round trip, chat template, image-token expansion."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from transformers import AutoProcessor, LlavaProcessor

from lightning_csr.shapeworld import (
    DESCRIPTION_PROMPTS,
    Scene,
    WorldSettings,
    build_processor,
    describe,
    processor_spec,
    render_scene,
    world_corpus,
)

MESSAGES = [
    {
        "role": "user",
        "content": [{"type": "image"}, {"type": "text", "text": "Describe the image in detail."}],
    }
]


def test_processor_roundtrip_and_numbers(processor: LlavaProcessor, processor_dir: Path) -> None:
    assert isinstance(processor, LlavaProcessor)
    spec = processor_spec(processor)
    assert (spec.image_size, spec.patch_size, spec.image_tokens) == (64, 8, 64)
    assert processor_spec(AutoProcessor.from_pretrained(str(processor_dir))) == spec
    tokenizer = processor.tokenizer
    ids = [tokenizer.convert_tokens_to_ids(t) for t in ("<pad>", "<s>", "</s>", "<unk>", "<image>")]
    assert ids == [
        spec.pad_token_id,
        spec.bos_token_id,
        spec.eos_token_id,
        tokenizer.unk_token_id,
        spec.image_token_id,
    ]
    assert spec.vocab_size == len(tokenizer) < 200


def test_chat_template_and_image_expansion(
    processor: LlavaProcessor, world: WorldSettings, scenes: list[Scene]
) -> None:
    prompt = processor.apply_chat_template(MESSAGES, add_generation_prompt=True)
    assert prompt == "USER: <image>\nDescribe the image in detail. ASSISTANT:"
    batch = processor(images=[render_scene(scenes[0], world)], text=[prompt], return_tensors="pt")
    assert tuple(batch["pixel_values"].shape) == (1, 3, 64, 64)
    assert int((batch["input_ids"] == processor.image_token_id).sum()) == 64
    assert batch["input_ids"][0, 0] == processor.tokenizer.bos_token_id


def test_assistant_turn_and_lossless_text(
    processor: LlavaProcessor, world: WorldSettings, scenes: list[Scene]
) -> None:
    answer = describe(scenes[1], random.Random(0), world)
    messages = [*MESSAGES, {"role": "assistant", "content": [{"type": "text", "text": answer}]}]
    full = processor.apply_chat_template(messages)
    assert full == f"USER: <image>\nDescribe the image in detail. ASSISTANT: {answer}</s>"
    tokenizer = processor.tokenizer
    for text in [
        answer,
        *DESCRIPTION_PROMPTS,
        "Yes, there is a star in the image.",
        "No, there is no ring in the image.",
    ]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in ids
        assert tokenizer.decode(ids) == text


def test_patch_size_is_a_parameter(world: WorldSettings, scenes: list[Scene], tmp_path: Path) -> None:
    processor = build_processor(world, world_corpus(world, scenes[:5]), tmp_path, patch_size=16)
    assert processor_spec(processor).image_tokens == 16
    with pytest.raises(ValueError, match="patch_size"):
        build_processor(world, ["a"], tmp_path, patch_size=7)
