"""`rank_slice`: each rank computes every `world_size`-th batch, batched as one process batches them."""

from __future__ import annotations

from torch.utils.data import DataLoader

from lightning_csr.distributed import rank_slice


def test_the_ranks_slices_are_the_one_process_batches_dealt_in_turn():
    loader = DataLoader(list(range(7)), batch_size=2)
    one = [b.tolist() for b in loader]
    slices = [[b.tolist() for b in rank_slice(loader, rank, 2)] for rank in range(2)]
    assert slices == [one[0::2], one[1::2]]
    assert rank_slice(loader, 0, 1) is loader


def test_zero_computes_returns_or_raises_what_rank_zero_got() -> None:
    import pytest

    from lightning_csr.distributed import Ranks

    assert Ranks().zero_computes(lambda: [1, 2]) == [1, 2]
    with pytest.raises(KeyError, match="judge down"):
        Ranks().zero_computes(lambda: (_ for _ in ()).throw(KeyError("judge down")))
