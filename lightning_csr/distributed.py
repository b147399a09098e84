"""What code needs to share work between the ranks of a run: its rank, a barrier, rank 0's decisions, sums.

It speaks to `torch.distributed`'s default group, which Lightning's DDP, FSDP and DeepSpeed strategies set up;
without one (a one-process run) every call is a no-op. All ranks are assumed to see one file system (one node,
or a shared directory across nodes): a rank writes only the files it owns, and rank 0 alone writes what the run
reports (merged data, stats, reports, exports).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

T = TypeVar("T")


class Ranks:
    """The calling process's place in the run, and the collective calls every rank must make together."""

    def __init__(self) -> None:
        self.active = dist.is_available() and dist.is_initialized()

    @property
    def rank(self) -> int:
        return dist.get_rank() if self.active else 0

    @property
    def world_size(self) -> int:
        return dist.get_world_size() if self.active else 1

    @property
    def is_zero(self) -> bool:
        return self.rank == 0

    @property
    def several(self) -> bool:
        return self.world_size > 1

    def barrier(self, name: str = "") -> None:
        """Wait until every rank gets here (`name` only documents the call site)."""
        if not self.several:
            return
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()

    def from_zero(self, value: T) -> T:
        """Rank 0's picklable `value`, on every rank (so that all ranks take the same branch)."""
        if not self.several:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def zero_computes(self, compute: Callable[[], T]) -> T:
        """`compute()` run on rank 0 only (e.g. calls to a paid API), its result or its error on every rank."""
        outcome: tuple[bool, Any] = (True, None)
        if self.is_zero:
            try:
                outcome = (True, compute())
            except Exception as error:  # re-raised on every rank, so that none waits forever
                outcome = (False, error)
        ok, value = self.from_zero(outcome)
        if not ok:
            raise value
        return value

    def gather(self, value: Any) -> list[Any]:
        """Every rank's picklable `value`, in rank order, on every rank."""
        if not self.several:
            return [value]
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum of `tensor` over the ranks (a new tensor; the input is left as it is)."""
        if not self.several:
            return tensor.clone()
        total = tensor.detach().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    def average_gradients(self, parameters: list[torch.nn.Parameter]) -> None:
        """Replace each parameter's gradient by its mean over the ranks (one flat all-reduce)."""
        if not self.several:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= self.world_size
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()


def rank_slice(loader: DataLoader, rank: int, world_size: int) -> DataLoader:
    """The batches of `loader` that rank `rank` computes: every `world_size`-th, as one process batches them."""
    if world_size == 1:
        return loader
    batches = list(loader.batch_sampler)[rank::world_size]
    return DataLoader(
        loader.dataset, batch_sampler=batches, collate_fn=loader.collate_fn, num_workers=loader.num_workers
    )


def map_by_batches(fn: Callable[[list[int]], list[T]], count: int, batch_size: int) -> list[T]:
    """`fn` over the positions `0..count-1`, each rank taking every `world_size`-th batch of `batch_size`.

    `fn` gets a rank's positions (whole batches, in order, so that a batched `fn` batches them as one process
    would) and returns one result per position; every rank gets all `count` results in position order.
    """
    ranks = Ranks()
    if not ranks.several:
        return fn(list(range(count)))
    starts = range(ranks.rank * batch_size, count, batch_size * ranks.world_size)
    mine = [i for start in starts for i in range(start, min(start + batch_size, count))]
    results = fn(mine) if mine else []
    merged: list[Any] = [None] * count
    for positions, values in ranks.gather((mine, results)):
        for position, value in zip(positions, values, strict=True):
            merged[position] = value
    return merged


def join_launched_ranks() -> Ranks:
    """Join the process group a launcher such as `torchrun` describes in the environment (`WORLD_SIZE` > 1),
    on the local GPU when there is one (NCCL), else on the CPU (gloo); a plain process stays alone."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and dist.is_available() and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return Ranks()
