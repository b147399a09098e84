"""`ShardPlan`: which rank generates which shard, and what a resumed run still has to do."""

from __future__ import annotations

import pytest

from lightning_csr.generation.sharding import ShardPlan


def test_shards_are_fixed_batches_dealt_by_index_modulo_world_size(tmp_path):
    plan = ShardPlan(total=7, shard_size=2, directory=tmp_path)
    assert plan.count == 4
    assert [list(plan.items(i)) for i in range(plan.count)] == [[0, 1], [2, 3], [4, 5], [6]]
    assert plan.owned(0, 1) == [0, 1, 2, 3]
    assert plan.owned(0, 2) == [0, 2] and plan.owned(1, 2) == [1, 3]
    assert plan.owned(2, 3) == [2]
    dealt = sorted(i for rank in range(3) for i in plan.owned(rank, 3))
    assert dealt == list(range(plan.count))
    with pytest.raises(ValueError, match="rank 2 outside a world of 2"):
        plan.owned(2, 2)


def test_a_shard_on_disk_is_done_whoever_wrote_it(tmp_path):
    plan = ShardPlan(total=8, shard_size=2, directory=tmp_path)
    plan.path(1).write_text("{}")  # written by rank 1 of 2, or by a one-process run
    assert plan.pending(0, 2) == [0, 2] and plan.pending(1, 2) == [3]
    assert plan.pending(0, 1) == [0, 2, 3]
    assert plan.missing() == [0, 2, 3]
