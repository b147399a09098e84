"""Rows of partial answers decoded token by token: one prefill per prompt, KV-cache rows reused by index.

Rows advance in lock-step. A row that is not advanced at a step gets a masked slot (attention 0, position
unchanged), so its cache stays valid while siblings finish their sentences. Position ids come from the model's
own `_prepare_position_ids_for_generation` at prefill (1-D or multimodal rope such as Qwen2-VL's) and grow by
one per real token; every forward goes through `model.prepare_inputs_for_generation`, so family quirks
(PaliGemma's 1-based positions, inputs dropped after prefill) are the model's business.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import torch

from lightning_csr.generation.kv_cache import growing_cache

PROMPT_KEYS = ("input_ids", "attention_mask")


def _split_batch(batch: Mapping[str, torch.Tensor]) -> tuple[dict, dict]:
    """Token-level side inputs (same shape as input_ids) and the rest (images and their sizes)."""
    shape = batch["input_ids"].shape
    token_inputs, image_inputs = {}, {}
    for key, value in batch.items():
        if key in PROMPT_KEYS:
            continue
        is_token_level = isinstance(value, torch.Tensor) and value.shape == shape
        (token_inputs if is_token_level else image_inputs)[key] = value
    return token_inputs, image_inputs


class _Rows:
    """Shared logic: the model call through `prepare_inputs_for_generation`."""

    def __init__(self, model, batch: Mapping[str, torch.Tensor], response_values: Mapping[str, int]) -> None:
        self.model = model
        self.device = model.device
        batch = {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        self.token_inputs, self.image_inputs = _split_batch(batch)
        self.response_values = {k: response_values.get(k, 0) for k in self.token_inputs}
        self.forward_params = set(inspect.signature(model.forward).parameters)
        self.forward_calls = 0

    def _positions(self, input_ids, attention_mask, token_inputs, image_inputs) -> torch.Tensor:
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask, **token_inputs, **image_inputs}
        return self.model._prepare_position_ids_for_generation(input_ids, kwargs)

    def _forward(self, input_ids, first: bool, **kwargs) -> torch.Tensor:
        if first and "logits_to_keep" in self.forward_params:
            kwargs["logits_to_keep"] = 1
        inputs = self.model.prepare_inputs_for_generation(input_ids, is_first_iteration=first, **kwargs)
        self.forward_calls += 1
        out = self.model(**inputs)
        self._last_output = out
        return out.logits[:, -1].float()


class CachedRows(_Rows):
    """Rows sharing one KV cache; `select` copies cache rows by index (repeats allowed)."""

    def __init__(self, model, batch, response_values: Mapping[str, int] = {}) -> None:
        super().__init__(model, batch, response_values)
        input_ids = batch["input_ids"].to(self.device)
        self.attention_mask = batch["attention_mask"].to(self.device).long()
        self.position_ids = self._positions(
            input_ids, self.attention_mask, self.token_inputs, self.image_inputs
        )
        with torch.inference_mode():
            self.next_logits = self._forward(
                input_ids,
                first=True,
                cache=growing_cache(model.config),
                attention_mask=self.attention_mask,
                position_ids=self.position_ids,
                use_cache=True,
                **self.token_inputs,
                **self.image_inputs,
            )
        self.cache = self._last_output.cache
        self._last_output = None

    def select(self, rows: torch.Tensor) -> None:
        """Keep (and repeat) rows; row i of the new state is row `rows[i]` of the old one."""
        rows = rows.to(self.device)
        self.cache.reorder_cache(rows)
        self.attention_mask = self.attention_mask[rows]
        self.position_ids = self.position_ids.index_select(self.position_ids.dim() - 2, rows)
        self.token_inputs = {k: v[rows] for k, v in self.token_inputs.items()}
        self.next_logits = self.next_logits[rows]

    def step(self, tokens: torch.Tensor, advance: torch.Tensor) -> None:
        """Append `tokens` to the rows where `advance`; refresh those rows' `next_logits`."""
        advance = advance.to(self.device)
        step = advance.long()
        self.attention_mask = torch.cat([self.attention_mask, step[:, None]], dim=1)
        shape = [1] * (self.position_ids.dim() - 2) + [-1, 1]
        next_position = self.position_ids[..., -1:] + step.view(shape)
        self.position_ids = torch.cat([self.position_ids, next_position], dim=-1)
        for key, value in self.token_inputs.items():
            column = torch.full_like(value[:, :1], self.response_values[key])
            self.token_inputs[key] = torch.cat([value, column], dim=1)
        with torch.inference_mode():
            logits = self._forward(
                tokens.to(self.device)[:, None],
                first=False,
                cache=self.cache,
                attention_mask=self.attention_mask,
                position_ids=self.position_ids,
                use_cache=True,
                **self.token_inputs,
            )
        self.cache = self._last_output.cache
        self._last_output = None
        self.next_logits = torch.where(advance[:, None], logits, self.next_logits)


class ReencodedRows(_Rows):
    """Reference: every step re-encodes image + prompt + answer so far, without a cache (slow; for tests).

    Image inputs must be indexable by prompt along their first dimension (e.g. LLaVA's `pixel_values`).
    """

    def __init__(self, model, batch, response_values: Mapping[str, int] = {}) -> None:
        super().__init__(model, batch, response_values)
        keep = batch["attention_mask"].bool()
        self.sequences = [ids[m].tolist() for ids, m in zip(batch["input_ids"], keep, strict=True)]
        self.side = {
            k: [v[i][keep[i]].tolist() for i in range(len(keep))] for k, v in self.token_inputs.items()
        }
        self.row_prompt = torch.arange(len(self.sequences))
        self.next_logits = self._encode(list(range(len(self.sequences))))

    def _encode(self, rows: list[int]) -> torch.Tensor:
        length = max(len(self.sequences[r]) for r in rows)
        input_ids = torch.zeros(len(rows), length, dtype=torch.long)
        mask = torch.zeros(len(rows), length, dtype=torch.long)
        side = {k: torch.zeros(len(rows), length, dtype=v.dtype) for k, v in self.token_inputs.items()}
        for i, r in enumerate(rows):  # left padding, like the processor
            n = len(self.sequences[r])
            input_ids[i, length - n :] = torch.tensor(self.sequences[r])
            mask[i, length - n :] = 1
            for k in side:
                side[k][i, length - n :] = torch.tensor(self.side[k][r])
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        side = {k: v.to(self.device) for k, v in side.items()}
        prompts = self.row_prompt[rows].to(self.device)
        images = {k: v[prompts] if isinstance(v, torch.Tensor) else v for k, v in self.image_inputs.items()}
        positions = self._positions(input_ids, mask, side, images)
        with torch.inference_mode():
            return self._forward(
                input_ids,
                first=True,
                attention_mask=mask,
                position_ids=positions,
                use_cache=False,
                **side,
                **images,
            )

    def select(self, rows: torch.Tensor) -> None:
        rows_list = rows.tolist()
        self.sequences = [list(self.sequences[r]) for r in rows_list]
        self.side = {k: [list(v[r]) for r in rows_list] for k, v in self.side.items()}
        self.row_prompt = self.row_prompt[rows.cpu()]
        self.next_logits = self.next_logits[rows.to(self.next_logits.device)]

    def step(self, tokens: torch.Tensor, advance: torch.Tensor) -> None:
        rows = advance.nonzero().flatten().tolist()
        for r in rows:
            self.sequences[r].append(int(tokens[r]))
            for k in self.side:
                self.side[k][r].append(self.response_values[k])
        if rows:
            self.next_logits[rows] = self._encode(rows)
