"""PPO rollouts: sampled responses with raw-logit log-probs, their layout, merging and atomic storage.

Layout of a rollout (B rows): `query_ids`/`query_mask` [B, P] left-padded prompts (image tokens included),
`response_ids`/`response_mask` [B, R] right-padded responses (mask covers tokens up to and including the first
end-of-turn), per-token tensors [B, R] aligned on response tokens, per-row tensors [B], image inputs, and
lists (`ids`, `texts`, ...). Prompt and response meet at column P for every row.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from lightning_csr.backbones.base import Backbone
from lightning_csr.data.provenance import (
    ProducerMismatchError,
    ProducerStamp,
    settings_digest,
    tensors_digest,
)
from lightning_csr.shapeworld.evaluation.metrics import suppressed_token_ids

PER_TOKEN = ("response_ids", "response_mask", "sample_logps", "logps", "ref_logps", "values")
QUERY = ("query_ids", "query_mask")


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
) -> dict[str, Any]:
    """Sample one response per prompt; log-probs come from the raw logits (log-softmax, no processing)."""
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
            output_logits=True,
            return_dict_in_generate=True,
        )
    finally:
        model.train(was_training)
    query_ids = inputs.pop("input_ids")
    query_mask = inputs.pop("attention_mask")
    response_ids = out.sequences[:, query_ids.shape[1] :]
    raw = torch.stack(out.logits, dim=1).float().log_softmax(dim=-1)
    sample_logps = raw.gather(2, response_ids.unsqueeze(-1)).squeeze(-1)
    mask, ended = response_mask(response_ids, eos)
    response_ids = response_ids.masked_fill(mask == 0, pad)
    return {
        "query_ids": query_ids.cpu(),
        "query_mask": query_mask.cpu(),
        "response_ids": response_ids.cpu(),
        "response_mask": mask.cpu(),
        "sample_logps": (sample_logps * mask).cpu(),
        "ended": ended.cpu(),
        "images": {k: v.cpu() for k, v in inputs.items() if isinstance(v, torch.Tensor)},
    }


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


def _pad(tensor: torch.Tensor, width: int, value: float, left: bool) -> torch.Tensor:
    extra = width - tensor.shape[1]
    if extra == 0:
        return tensor
    filler = torch.full((tensor.shape[0], extra, *tensor.shape[2:]), value, dtype=tensor.dtype)
    return torch.cat([filler, tensor] if left else [tensor, filler], dim=1)


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
            merged[key] = {k: torch.cat([v[k] for v in values]) for k in value}
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
            picked[key] = {k: v[rows] for k, v in value.items()}
        elif isinstance(value, list):
            picked[key] = [value[i] for i in rows.tolist()]
        else:
            picked[key] = value
    return picked


def images_digest(images: Sequence[Image.Image]) -> str:
    """SHA-256 of images' modes, sizes and pixels, in order."""
    digest = hashlib.sha256()
    for image in images:
        digest.update(f"{image.mode}|{image.size}|".encode())
        digest.update(image.tobytes())
    return digest.hexdigest()


def rollout_producer(
    settings: dict[str, Any],
    prompts: Sequence[Any],
    images: Sequence[Image.Image],
    weights: Iterable[tuple[str, torch.Tensor]],
) -> tuple[str, dict[str, Any]]:
    """(digest, readable summary) of what makes an iteration's rollout: settings, prompts, images, weights."""
    described = {
        **settings,
        "prompts": settings_digest(list(prompts)),
        "prompt_ids": [getattr(p, "id", None) for p in prompts],
        "images": images_digest(images),
        "weights": tensors_digest(weights),
    }
    return settings_digest(described), described


class RolloutStore:
    """Finished rollout chunks on disk, `<root>/iteration_<k>/chunk_<j>.pt`, each written atomically.

    Each iteration directory holds `producer.json`, the digest of what sampled its chunks (`claim`); chunks are
    reused only under the same digest.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def iteration_dir(self, iteration: int) -> Path:
        return self.root / f"iteration_{iteration:06d}"

    def chunk_path(self, iteration: int, chunk: int) -> Path:
        return self.iteration_dir(iteration) / f"chunk_{chunk:03d}.pt"

    def claim(self, iteration: int, digest: str, described: dict[str, Any] | None = None) -> None:
        """Stamp an iteration's directory with its producer, or check that its stored chunks share it."""
        directory = self.iteration_dir(iteration)
        advice = (
            f"to start fresh, delete {directory.parent} or point `rollout_dir` "
            "(default `<trainer.default_root_dir>/rollouts`) elsewhere"
        )
        stamp = ProducerStamp(directory, "PPO rollout chunks", advice)
        if stamp.recorded() is None and any(directory.glob("chunk_*.pt")):
            raise ProducerMismatchError(f"{directory}: holds PPO rollout chunks of unknown origin; {advice}")
        stamp.claim(digest, described)

    def load(self, iteration: int, chunk: int) -> dict[str, Any] | None:
        """A finished chunk, or None when it was never finished."""
        path = self.chunk_path(iteration, chunk)
        return torch.load(path, weights_only=False) if path.is_file() else None

    def save(self, iteration: int, chunk: int, rollout: dict[str, Any]) -> Path:
        """Write a chunk atomically (temp file in the same directory, then rename)."""
        path = self.chunk_path(iteration, chunk)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            torch.save(rollout, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path
