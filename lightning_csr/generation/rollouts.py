"""PPO rollouts: sampled responses, their layout, model inputs, merging and row selection.

Layout of a rollout (B rows): `query_ids`/`query_mask` [B, P] left-padded prompts (image tokens included),
`response_ids`/`response_mask` [B, R] right-padded responses (mask covers tokens up to and including the first
end-of-turn), per-token tensors [B, R] aligned on response tokens, per-row tensors [B], image inputs, and
lists (`ids`, `texts`, ...), and `token_inputs` [B, P + R] (the backbone's per-token side inputs, with their
response value on the response). Prompt and response meet at column P for every row. Stored chunks:
`rollout_store`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from lightning_csr.backbones.base import Backbone
from lightning_csr.backbones.image_rows import concat_image_rows, select_image_rows
from lightning_csr.generation.greedy import suppressed_token_ids

PER_TOKEN = ("response_ids", "response_mask", "sample_logps", "logps", "ref_logps", "values")
QUERY = ("query_ids", "query_mask")
# per-token side inputs over query + response (e.g. Qwen2-VL's mm_token_type_ids)
TOKEN_INPUTS = "token_inputs"


def response_mask(response_ids: torch.Tensor, eos: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask up to and including the first end-of-turn [B, R], whether each row ended [B])."""
    is_eos = response_ids == eos
    ended = is_eos.any(dim=1)
    before_eos = (is_eos.long().cumsum(dim=1) - is_eos.long()) == 0
    return before_eos.long(), ended


@torch.no_grad()
def sample_responses(
    model: torch.nn.Module,
    backbone: Backbone,
    images: Sequence[Image.Image],
    prompts: Sequence[str],
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    top_p: float = 1.0,
    keep_logits: bool = False,
) -> dict[str, Any]:
    """Sample one response per prompt; with `keep_logits`, also each step's raw logits `step_logits` [B, R, V].

    The raw logits are the model's unprocessed scores (no temperature or top-p), so log-probs read from them
    (`modules.components.logprobs`) match a teacher-forced pass over the sampled tokens.
    """
    device = next(model.parameters()).device
    inputs = backbone.prompt_batch(images, prompts)
    inputs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
    eos = backbone.end_of_turn_id
    pad = backbone.tokenizer.pad_token_id if backbone.tokenizer.pad_token_id is not None else eos
    was_training = model.training
    model.eval()
    try:
        out = model.generate(
            **inputs,
            do_sample=True,
            temperature=temperature,
            top_p=top_p,
            top_k=0,
            max_new_tokens=max_new_tokens,
            eos_token_id=eos,
            pad_token_id=pad,
            suppress_tokens=suppressed_token_ids(model, backbone),
            output_logits=keep_logits,
            return_dict_in_generate=True,
        )
    finally:
        model.train(was_training)
    query_ids = inputs.pop("input_ids")
    query_mask = inputs.pop("attention_mask")
    response_ids = out.sequences[:, query_ids.shape[1] :]
    token_inputs = {
        k: torch.cat([inputs.pop(k), torch.full_like(response_ids, value)], dim=1).cpu()
        for k, value in backbone.token_level_inputs.items()
        if k in inputs
    }
    mask, ended = response_mask(response_ids, eos)
    sampled = {
        "query_ids": query_ids.cpu(),
        "query_mask": query_mask.cpu(),
        "response_ids": response_ids.masked_fill(mask == 0, pad).cpu(),
        "response_mask": mask.cpu(),
        "ended": ended.cpu(),
        "images": {k: v.cpu() for k, v in inputs.items() if isinstance(v, torch.Tensor)},
        TOKEN_INPUTS: token_inputs,
    }
    if keep_logits:
        sampled["step_logits"] = torch.stack(out.logits, dim=1)
    return sampled


def response_token_lists(rollout: dict[str, Any]) -> list[list[int]]:
    """Each row's real response tokens (end-of-turn included when generated)."""
    ids, mask = rollout["response_ids"], rollout["response_mask"].bool()
    return [ids[i][mask[i]].tolist() for i in range(ids.shape[0])]


def texts(backbone: Backbone, rollout: dict[str, Any]) -> list[str]:
    """Decoded responses without the end-of-turn token."""
    eos = backbone.end_of_turn_id
    return [
        backbone.tokenizer.decode([t for t in row if t != eos], skip_special_tokens=True).strip()
        for row in response_token_lists(rollout)
    ]


def sequence_inputs(rollout: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    """Model inputs of prompt + response: [left-padded query | right-padded response] with images."""
    inputs = {
        "input_ids": torch.cat([rollout["query_ids"], rollout["response_ids"]], dim=1),
        "attention_mask": torch.cat([rollout["query_mask"], rollout["response_mask"]], dim=1),
        **rollout["images"],
        **rollout.get(TOKEN_INPUTS, {}),
    }
    return {k: v.to(device) for k, v in inputs.items()}


def _pad(tensor: torch.Tensor, width: int, value: float, left: bool) -> torch.Tensor:
    extra = width - tensor.shape[1]
    if extra == 0:
        return tensor
    filler = torch.full((tensor.shape[0], extra, *tensor.shape[2:]), value, dtype=tensor.dtype)
    return torch.cat([filler, tensor] if left else [tensor, filler], dim=1)


def _repad(part: dict[str, Any], tensor: torch.Tensor, query_width: int, response_width: int) -> torch.Tensor:
    """A [B, P + R] tensor of one chunk re-padded to the merged query and response widths."""
    split = part["query_ids"].shape[1]
    query = _pad(tensor[:, :split], query_width, 0, True)
    return torch.cat([query, _pad(tensor[:, split:], response_width, 0, False)], dim=1)


def merge_rollouts(parts: Sequence[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """Concatenate rollout chunks row-wise, re-padding queries on the left and responses on the right."""
    if len(parts) == 1:
        return parts[0]
    merged: dict[str, Any] = {}
    query_width = max(p["query_ids"].shape[1] for p in parts)
    response_width = max(p["response_ids"].shape[1] for p in parts)
    for key, value in parts[0].items():
        values = [p[key] for p in parts]
        if key in QUERY:
            merged[key] = torch.cat(
                [_pad(v, query_width, pad_id if key == "query_ids" else 0, True) for v in values]
            )
        elif key in PER_TOKEN:
            fill = pad_id if key == "response_ids" else 0
            merged[key] = torch.cat([_pad(v, response_width, fill, False) for v in values])
        elif key == "images":
            merged[key] = concat_image_rows(values)
        elif key == TOKEN_INPUTS:
            merged[key] = {
                k: torch.cat([_repad(p, p[key][k], query_width, response_width) for p in parts])
                for k in value
            }
        elif isinstance(value, torch.Tensor):
            merged[key] = torch.cat(values)
        elif isinstance(value, list):
            merged[key] = [item for v in values for item in v]
        else:
            merged[key] = value
    return merged


def select_rows(rollout: dict[str, Any], rows: torch.Tensor) -> dict[str, Any]:
    """A minibatch of rows (tensors indexed, lists picked)."""
    picked: dict[str, Any] = {}
    for key, value in rollout.items():
        if isinstance(value, torch.Tensor):
            picked[key] = value[rows]
        elif key == "images":
            picked[key] = select_image_rows(value, rows)
        elif key == TOKEN_INPUTS:
            picked[key] = {k: v[rows] for k, v in value.items()}
        elif isinstance(value, list):
            picked[key] = [value[i] for i in rows.tolist()]
        else:
            picked[key] = value
    return picked
