"""A KV cache that appends in place: `DynamicCache` grows by `torch.cat`, copying every row's whole cache at
every decoding step (quadratic in the answer length). Here each layer keeps a buffer with spare room and
appends into it; the buffer grows geometrically and is rebuilt only when rows are reordered."""

from __future__ import annotations

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer


class GrowingLayer(DynamicLayer):
    """A `DynamicLayer` whose `keys`/`values` are views into larger buffers (same results, amortised O(1) append)."""

    min_room = 64

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        super().lazy_initialization(key_states, value_states)
        self._key_buffer: torch.Tensor | None = None
        self._value_buffer: torch.Tensor | None = None

    def _fits(self, batch: int, end: int) -> bool:
        """Whether the buffers exist, match the batch, have room up to `end` and still back `keys`/`values`
        (`reorder_cache` replaces them with new tensors)."""
        buffer = self._key_buffer
        if buffer is None or buffer.shape[0] != batch or buffer.shape[-2] < end:
            return False
        return self.get_seq_length() == 0 or (
            self.keys.data_ptr() == buffer.data_ptr()
            and self.values.data_ptr() == self._value_buffer.data_ptr()
        )

    def _grow(self, key_states: torch.Tensor, value_states: torch.Tensor, length: int, end: int) -> None:
        """New buffers with room for `end` positions and more, holding the current `length` positions."""
        capacity = max(end, 2 * length, length + self.min_room)
        buffers = []
        for current, new in ((self.keys, key_states), (self.values, value_states)):
            buffer = new.new_empty((*new.shape[:-2], capacity, new.shape[-1]))
            if length:
                buffer[..., :length, :] = current
            buffers.append(buffer)
        self._key_buffer, self._value_buffer = buffers

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        length = self.get_seq_length()
        end = length + key_states.shape[-2]
        if not self._fits(key_states.shape[0], end):
            self._grow(key_states, value_states, length, end)
        self._key_buffer[..., length:end, :] = key_states
        self._value_buffer[..., length:end, :] = value_states
        self.keys = self._key_buffer[..., :end, :]
        self.values = self._value_buffer[..., :end, :]
        return self.keys, self.values


def growing_cache(config) -> DynamicCache:
    """A `DynamicCache` for `config` whose full-attention layers append in place (sliding ones are kept)."""
    cache = DynamicCache(config=config)
    if cache.layers:
        cache.layers = [GrowingLayer() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    else:
        cache.layer_class_to_replicate = GrowingLayer
    return cache
