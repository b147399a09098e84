"""The in-place KV cache holds exactly what `DynamicCache` holds, through appends, reorders and crops."""

from __future__ import annotations

import torch
from transformers import LlamaConfig
from transformers.cache_utils import DynamicLayer

from lightning_csr.generation.kv_cache import GrowingLayer, growing_cache


def _kv(batch: int, length: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    shape = (batch, 2, length, 4)
    return torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)


def test_growing_layer_matches_dynamic_layer():
    generator = torch.Generator().manual_seed(0)
    ours, reference = GrowingLayer(), DynamicLayer()
    ours.min_room = 3  # force several regrowths
    batch = 3
    for step, length in enumerate([5, 1, 1, 2, 1, 1, 1, 4, 1]):
        keys, values = _kv(batch, length, generator)
        got = ours.update(keys, values)
        want = reference.update(keys, values)
        torch.testing.assert_close(got[0], want[0], rtol=0, atol=0)
        torch.testing.assert_close(got[1], want[1], rtol=0, atol=0)
        if step == 3:  # keep, repeat and drop rows, as the search does between depths
            rows = torch.tensor([2, 2, 0, 1])
            ours.reorder_cache(rows)
            reference.reorder_cache(rows)
            batch = 4
        if step == 6:
            ours.crop(-2)
            reference.crop(-2)
    assert ours.get_seq_length() == reference.get_seq_length()


def test_appends_write_into_spare_room_without_copying():
    layer = GrowingLayer()
    generator = torch.Generator().manual_seed(1)
    layer.update(*_kv(2, 4, generator))
    buffer = layer._key_buffer
    for _ in range(10):
        layer.update(*_kv(2, 1, generator))
    assert layer._key_buffer is buffer  # 4 + 10 positions fit in the first buffer (min_room 64)
    assert layer.keys.data_ptr() == buffer.data_ptr()
    assert layer.get_seq_length() == 14


def test_growing_cache_replaces_full_attention_layers():
    config = LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2)
    cache = growing_cache(config)
    assert [type(layer) for layer in cache.layers] == [GrowingLayer, GrowingLayer]
