"""Real chat templates and processors: completion masks, padding sides, end-of-turn, image-token counts, cut
prompts and sentence boundaries on the real vocabularies."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.backbones import ImageTokenMismatchError
from lightning_csr.generation.search import vocab_size
from lightning_csr.generation.tokens import build_token_sets, end_of_turn_ids
from tests.conformance.conftest import images, real_backbone

PROMPTS = ["What is it?", "Describe the picture in detail."]
RESPONSES = ["A red square.", "Two circles. One of them is blue!"]
# the token each real chat template closes the assistant turn with (LLaVA's templates write none: EOS ends it)
END_OF_TURN = {
    "llava": "</s>",
    "llava_next": "</s>",
    "qwen2_vl": "<|im_end|>",
    "idefics3": "<end_of_utterance>",
}


def _conversation_ids(backbone, image, prompt: str, response: str) -> list[int]:
    """The real processor's ids of the whole conversation as its chat template writes it."""
    messages = backbone.prompt_messages(prompt) + [
        {"role": "assistant", "content": [{"type": "text", "text": response}]}
    ]
    text = backbone.processor.apply_chat_template(messages)
    return backbone.processor(images=[image], text=[text], return_tensors="pt")["input_ids"][0].tolist()


def test_completion_starts_right_after_the_real_generation_prompt(family):
    backbone = real_backbone(family)
    pictures = images(2)
    batch = backbone.collate(pictures, PROMPTS, RESPONSES, ids=["a", "b"])
    prompt = backbone.prompt_batch(pictures, PROMPTS)
    special = set(backbone.tokenizer.all_special_ids)
    for row, response in enumerate(RESPONSES):
        start = int(prompt["attention_mask"][row].sum())
        ours = batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist()
        completion = batch["completion_mask"][row].nonzero().flatten().tolist()
        assert completion == list(range(start, len(ours))), "the completion is one block after the prompt"
        assert ours[:start] == prompt["input_ids"][row][-start:].tolist()
        # prompt + response tokens are what the real template gives for the whole conversation
        template = _conversation_ids(backbone, pictures[row], PROMPTS[row], response)
        assert ours[:-1] == template[: len(ours) - 1], backbone.tokenizer.decode(template[start:])
        assert ours[-1] == backbone.end_of_turn_id
        closing = template[len(ours) - 1] if len(template) >= len(ours) else None
        if closing in special:  # where the template writes an end token, it is ours
            assert closing == backbone.end_of_turn_id


def test_padding_sides(family):
    """Generation prompts are left-padded whatever the tokenizer says; training rows right-padded."""
    backbone = real_backbone(family)
    side = backbone.tokenizer.padding_side
    pictures = images(2)
    prompt = backbone.prompt_batch(pictures, PROMPTS)
    assert prompt["attention_mask"][:, -1].all() and not prompt["attention_mask"][0, 0]
    batch = backbone.collate(pictures, PROMPTS, RESPONSES)
    assert batch["attention_mask"][:, 0].all() and not batch["attention_mask"][0, -1]
    pad = backbone.tokenizer.pad_token_id
    assert (batch["input_ids"][~batch["attention_mask"].bool()] == pad).all()
    assert backbone.tokenizer.padding_side == side  # the processor's own setting is restored


def test_end_of_turn_token_is_the_real_one_and_stops_generation(family):
    name, _ = family
    backbone = real_backbone(family)
    expected = backbone.tokenizer.convert_tokens_to_ids(END_OF_TURN[name])
    assert backbone.end_of_turn_id == expected
    batch = backbone.collate(images(1), PROMPTS[:1], RESPONSES[:1])
    assert batch["input_ids"][0][batch["completion_mask"][0].bool()][-1] == expected
    model = backbone.load_model()
    assert expected in end_of_turn_ids(backbone, model)


@pytest.mark.parametrize("size", [(640, 480)])
def test_image_tokens_match_features_on_real_geometry(family, size):
    name, _ = family
    backbone = real_backbone(family)
    batch = backbone.prompt_batch(images(1, size), PROMPTS[:1])
    count = int((batch["input_ids"] == backbone.image_token_id).sum())
    per_family = {"llava": 576, "idefics3": 13 * 64}
    if name in per_family:
        assert count == per_family[name]
    assert backbone.expected_image_tokens(batch).tolist() == [count]
    backbone.check_image_tokens(batch)
    model = backbone.load_model().eval()
    with torch.no_grad():  # the model's own placeholder check agrees (no logits: the base model only)
        model.model(**backbone.model_inputs(batch), use_cache=False)


def test_cut_prompt_raises_the_clear_error(family):
    backbone = real_backbone(family, training=True)
    batch = backbone.collate(images(2), PROMPTS, RESPONSES, ids=["a", "b"])
    positions = (batch["input_ids"][1] == backbone.image_token_id).nonzero().flatten()
    cut = int(positions[len(positions) // 2])
    cut_batch = {
        k: v[:, :cut] if k in ("input_ids", "attention_mask", "completion_mask") else v
        for k, v in batch.items()
    }
    cut_batch = {k: v[:, :cut] if k in backbone.token_level_inputs else v for k, v in cut_batch.items()}
    with pytest.raises(ImageTokenMismatchError, match=r"'b'.*tokens \[.*\], expected"):
        backbone.check_image_tokens(cut_batch, ["a", "b"])


def test_sentence_boundaries_on_the_real_vocabulary(family):
    backbone = real_backbone(family)
    model = backbone.load_model()
    sets = build_token_sets(backbone, vocab_size(model), (".", "?", "!", "\n"), model)
    tokenizer = backbone.tokenizer
    answer = "It is red. Is it big? Yes! The end."
    ids = backbone.response_ids(answer)[:-1]
    ends = [i for i, token in enumerate(ids) if sets.stop[token]]
    texts = [tokenizer.decode(ids[: i + 1]).strip() for i in ends]
    sentences = ["It is red.", " Is it big?", " Yes!", " The end."]
    expected = ["".join(sentences[: i + 1]).strip() for i in range(len(sentences))]
    assert texts == expected, tokenizer.convert_ids_to_tokens(ids)
    lines = backbone.response_ids("One line\nand another")[:-1]
    assert any(sets.stop[token] for token in lines), tokenizer.convert_ids_to_tokens(lines)
    assert sets.end_of_turn[backbone.end_of_turn_id] and not sets.stop[backbone.end_of_turn_id]
    assert sets.suppressed[backbone.image_token_id] and not sets.suppressed[backbone.end_of_turn_id]
    # padding is never generated, unless the generation config counts it as an end (Qwen's <|endoftext|>)
    assert sets.suppressed[tokenizer.pad_token_id] != bool(sets.end_of_turn[tokenizer.pad_token_id])
