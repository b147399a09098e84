"""Batches of a backbone: left-padded prompts for generation, right-padded training rows, image-token checks.

`Backbone.prompt_batch`, `Backbone.collate` and `Backbone.check_image_tokens` are these functions; families
change them through the backbone's hooks (`prompt_text`, `prepare_images`, `token_level_inputs`,
`expected_image_tokens`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from PIL import Image

from lightning_csr.errors import UserError

if TYPE_CHECKING:
    from lightning_csr.backbones.base import Backbone


class ImageTokenMismatchError(UserError, ValueError):
    """Image placeholder tokens and image features disagree for a sample."""


def prompt_batch(
    backbone: Backbone, images: Sequence[Image.Image], prompts: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Left-padded prompts (with images) ready for generation."""
    tokenizer = backbone.tokenizer
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    try:
        return dict(
            backbone.processor(
                images=backbone.prepare_images(images),
                text=[backbone.prompt_text(p) for p in prompts],
                return_tensors="pt",
                padding=True,
            )
        )
    finally:
        tokenizer.padding_side = side


RESPONSE_PROBE = "\u2063"  # a character no chat template writes, marking where the response goes


def _response_context(backbone: Backbone) -> tuple[str, list[int]]:
    """A rendered generation prompt with the text the template puts before a response (e.g. SmolVLM's space),
    and the ids of the prompt alone."""
    if backbone._response_context is None:
        messages = backbone.prompt_messages("Hi")
        prompt = backbone.processor.apply_chat_template(messages, add_generation_prompt=True)
        content = messages[0]["content"]
        reply = RESPONSE_PROBE if isinstance(content, str) else [{"type": "text", "text": RESPONSE_PROBE}]
        full = backbone.processor.apply_chat_template(messages + [{"role": "assistant", "content": reply}])
        lead = full[len(prompt) : full.index(RESPONSE_PROBE)] if full.startswith(prompt) else ""
        ids = backbone.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        backbone._response_context = (prompt + lead, ids)
    return backbone._response_context


def templated_response_ids(backbone: Backbone, response: str) -> list[int]:
    """A response's token ids as they follow the generation prompt in the chat template (no end token).

    Tokenised behind the prompt and cut off there: a response on its own would lose the template's space
    (SmolVLM's `Assistant: A`) or gain a lone `▁` (sentencepiece tokenising ` A`).
    """
    context, context_ids = _response_context(backbone)
    ids = backbone.tokenizer(context + response, add_special_tokens=False)["input_ids"]
    if ids[: len(context_ids)] == context_ids:
        return ids[len(context_ids) :]
    return backbone.tokenizer(response, add_special_tokens=False)["input_ids"]  # the boundary merged


def pad_id(backbone: Backbone) -> int:
    """The tokenizer's padding id, or end-of-turn when it has none."""
    tokenizer = backbone.tokenizer
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else backbone.end_of_turn_id


def collate(
    backbone: Backbone,
    images: Sequence[Image.Image],
    prompts: Sequence[str],
    responses: Sequence[str],
    ids: Sequence[str] | None = None,
    response_token_ids: Sequence[Sequence[int] | None] | None = None,
) -> dict[str, torch.Tensor]:
    """Right-padded (image, prompt, response) batch with a completion mask; never truncates.

    A row's `response_token_ids`, when given, are the response's tokens as sampled; they replace its text.
    """
    enc = backbone.prompt_batch(images, prompts)
    mask = enc.pop("attention_mask")
    prompt_ids = enc.pop("input_ids")
    token_inputs = {k: enc.pop(k) for k in list(enc) if k in backbone.token_level_inputs}
    rows, extras = [], {k: [] for k in token_inputs}
    forbidden = {backbone.image_token_id, backbone.tokenizer.pad_token_id}
    sampled = [None] * len(responses) if response_token_ids is None else response_token_ids
    for i, (response, token_ids) in enumerate(zip(responses, sampled, strict=True)):
        keep = mask[i].bool()
        r_ids = backbone.response_ids(response, token_ids)
        if forbidden & set(r_ids[:-1]):
            name = ids[i] if ids else f"#{i}"
            raise ImageTokenMismatchError(f"sample {name}: the response contains the image or padding token")
        rows.append((prompt_ids[i][keep].tolist(), r_ids))
        for k, v in token_inputs.items():
            extras[k].append(v[i][keep].tolist() + [backbone.token_level_inputs[k]] * len(r_ids))
    length = max(len(p) + len(r) for p, r in rows)
    batch = {
        "input_ids": torch.full((len(rows), length), pad_id(backbone), dtype=torch.long),
        "attention_mask": torch.zeros(len(rows), length, dtype=torch.long),
        "completion_mask": torch.zeros(len(rows), length, dtype=torch.long),
    }
    for k in extras:
        batch[k] = torch.zeros(len(rows), length, dtype=token_inputs[k].dtype)
    for i, (p, r) in enumerate(rows):
        n = len(p) + len(r)
        batch["input_ids"][i, :n] = torch.tensor(p + r)
        batch["attention_mask"][i, :n] = 1
        batch["completion_mask"][i, len(p) : n] = 1
        for k in extras:
            batch[k][i, :n] = torch.tensor(extras[k][i])
    batch.update(enc)
    return batch


def check_image_tokens(
    backbone: Backbone, batch: dict[str, torch.Tensor], ids: Sequence[str] | None = None
) -> None:
    """Each row holds as many image tokens as its image produces features (cheap count check)."""
    counts = (batch["input_ids"] == backbone.image_token_id).sum(dim=1)
    expected = backbone.expected_image_tokens(batch)
    if expected is None:
        return
    bad = (counts != expected).nonzero().flatten().tolist()
    if bad:
        names = [ids[i] if ids else f"#{i}" for i in bad]
        raise ImageTokenMismatchError(
            f"image tokens and image features disagree for samples {names}: "
            f"tokens {counts[bad].tolist()}, expected {expected[bad].tolist()}"
        )
