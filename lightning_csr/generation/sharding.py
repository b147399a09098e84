"""A generation job cut into fixed shards, each owned by one rank, written atomically and read back in order.

A shard is a fixed batch of consecutive items (prompts): item `i` is always decoded in shard `i // shard_size`,
beside the same neighbours, whatever the number of ranks, so padding and batched floats (and the bytes written)
do not depend on how many processes share the job. Rank `r` of `W` owns the shards whose index is `r` modulo
`W`. A shard on disk is finished work whoever wrote it: a resumed run (with any number of ranks) skips it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image

from lightning_csr.generation.pairs import Curation


class PairGenerator(Protocol):
    """The one call pair generation goes through (a LightningModule today; an inference engine could be another).

    It gets a batch of images, raw user questions, their ids and image references, and the iteration (which,
    with each id, seeds the sampling), and returns the curated pairs and the ids it dropped, by reason.
    """

    def generate_pairs(
        self,
        images: Sequence[Image.Image],
        prompts: Sequence[str],
        ids: Sequence[str],
        image_refs: Sequence[str],
        iteration: int,
    ) -> Curation: ...


@dataclass(frozen=True)
class ShardPlan:
    """`total` items in shards of `shard_size`, stored as `<directory>/<index:05d>.json`."""

    total: int
    shard_size: int
    directory: Path

    def __post_init__(self) -> None:
        if self.shard_size < 1:
            raise ValueError(f"shard size must be at least 1, got {self.shard_size}")

    @property
    def count(self) -> int:
        """How many shards the job has."""
        return -(-self.total // self.shard_size)

    def items(self, index: int) -> range:
        """The item positions of shard `index`."""
        return range(index * self.shard_size, min((index + 1) * self.shard_size, self.total))

    def path(self, index: int) -> Path:
        """Where shard `index` is written."""
        return self.directory / f"{index:05d}.json"

    def owned(self, rank: int, world_size: int) -> list[int]:
        """The shards rank `rank` of `world_size` generates: index modulo world size."""
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside a world of {world_size}")
        return list(range(rank, self.count, world_size))

    def pending(self, rank: int, world_size: int) -> list[int]:
        """The shards of `rank` not on disk yet (a shard written by any earlier run, of any size, counts)."""
        return [index for index in self.owned(rank, world_size) if not self.path(index).is_file()]

    def missing(self) -> list[int]:
        """The shards not on disk (empty once every rank has finished)."""
        return [index for index in range(self.count) if not self.path(index).is_file()]
