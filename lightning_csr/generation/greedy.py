"""Greedy answers of any backbone's VLM, cut at the first end-of-turn; the ids generation must never produce."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from PIL import Image

from lightning_csr.backbones.base import Backbone

Progress = Callable[[int], None]


def suppressed_token_ids(model: torch.nn.Module, backbone: Backbone) -> list[int]:
    """Ids generation must never produce: special tokens except end-of-turn, the image token, unused rows."""
    tokenizer = backbone.tokenizer
    keep = {backbone.end_of_turn_id}
    ids = set(tokenizer.all_special_ids) | {backbone.image_token_id}
    if tokenizer.pad_token_id is not None:
        ids.add(tokenizer.pad_token_id)
    rows = model.get_output_embeddings().weight.shape[0]
    ids |= set(range(len(tokenizer), rows))
    return sorted(i for i in ids - keep if 0 <= i < rows)


@torch.no_grad()
def generate_answers(
    model: torch.nn.Module,
    backbone: Backbone,
    images: Sequence[Image.Image],
    prompts: Sequence[str],
    batch_size: int = 32,
    max_new_tokens: int = 64,
    progress: Progress | None = None,
) -> list[str]:
    """Greedy answers, one per (image, prompt), cut at the first end-of-turn id and decoded."""
    if len(images) != len(prompts):
        raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
    eos = backbone.end_of_turn_id
    suppress = suppressed_token_ids(model, backbone)
    pad = backbone.tokenizer.pad_token_id if backbone.tokenizer.pad_token_id is not None else eos
    device = next(model.parameters()).device
    answers: list[str] = []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(prompts), batch_size):
            inputs = backbone.prompt_batch(
                images[start : start + batch_size], prompts[start : start + batch_size]
            )
            inputs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
            output = model.generate(
                **inputs,
                do_sample=False,
                num_beams=1,
                max_new_tokens=max_new_tokens,
                eos_token_id=eos,
                pad_token_id=pad,
                suppress_tokens=suppress,
            )
            for row in output[:, inputs["input_ids"].shape[1] :].tolist():
                row = row[: row.index(eos)] if eos in row else row
                answers.append(backbone.tokenizer.decode(row, skip_special_tokens=True).strip())
            if progress is not None:
                progress(len(inputs["input_ids"]))
    finally:
        model.train(was_training)
    return answers
