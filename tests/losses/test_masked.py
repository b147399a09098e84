"""Masked reductions: one meaning per name, padding ignored whatever it holds."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.losses.masked import last_set_index, masked_count, masked_mean, masked_sum

VALUES = torch.tensor([[1.0, 2.0, float("nan")], [4.0, float("inf"), 6.0]])
MASK = torch.tensor([[1, 1, 0], [1, 0, 1]])


def test_sum_and_mean_ignore_non_finite_padding():
    assert masked_sum(VALUES, MASK).item() == 13.0
    assert masked_sum(VALUES, MASK, dim=-1).tolist() == [3.0, 10.0]
    assert masked_count(MASK, dim=1).tolist() == [2, 2]
    assert masked_mean(VALUES, MASK).item() == 3.25
    assert masked_mean(VALUES, MASK, dim=1).tolist() == [1.5, 5.0]


def test_mean_of_nothing_is_zero():
    empty = torch.zeros_like(MASK)
    assert masked_mean(VALUES, empty).item() == 0.0
    assert masked_mean(VALUES, empty, dim=1).tolist() == [0.0, 0.0]


def test_last_set_index_either_padding_side():
    assert last_set_index(torch.tensor([[1, 1, 0, 0], [0, 1, 1, 1]])).tolist() == [1, 3]
    with pytest.raises(ValueError, match="at least one real token"):
        last_set_index(torch.tensor([[0, 0]]))
