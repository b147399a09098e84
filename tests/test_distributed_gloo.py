"""`Ranks` and whitening across ranks in 2 real gloo processes: the results one process gets from all the data."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lightning_csr.distributed import Ranks
from lightning_csr.losses.masked import masked_whiten
from lightning_csr.modules.components.advantages import whiten_across_ranks


def data() -> tuple[torch.Tensor, torch.Tensor]:
    """6 responses of 5 tokens with ragged masks (rank r holds rows 3r..3r+2)."""
    values = torch.randn(6, 5, generator=torch.Generator().manual_seed(0)) * 3 + 1
    mask = (torch.arange(5) < torch.tensor([5, 2, 4, 1, 3, 5])[:, None]).float()
    return values, mask


def worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        ranks = Ranks()
        values, mask = data()
        rows = slice(3 * rank, 3 * rank + 3)
        whitened = whiten_across_ranks(values[rows], mask[rows], ranks)
        grad = torch.nn.Parameter(torch.zeros(3))
        grad.grad = torch.full((3,), float(rank + 1))
        ranks.average_gradients([grad])
        decided = ranks.from_zero(f"rank {rank}")
        torch.save({"whitened": whitened, "grad": grad.grad, "decided": decided}, f"{out}.{rank}")
        ranks.barrier()
    finally:
        dist.destroy_process_group()


def test_two_ranks_whiten_and_average_as_one_process(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mp.spawn(worker, args=(port, str(tmp_path / "result")), nprocs=2)
    results = [torch.load(tmp_path / f"result.{rank}") for rank in range(2)]
    values, mask = data()
    expected = masked_whiten(values, mask)
    got = torch.cat([r["whitened"] for r in results])
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    assert not torch.allclose(
        torch.cat([masked_whiten(values[:3], mask[:3]), masked_whiten(values[3:], mask[3:])]), expected
    )
    for result in results:
        assert torch.equal(result["grad"], torch.full((3,), 1.5))
        assert result["decided"] == "rank 0"
    assert Ranks().world_size == 1 and Ranks().from_zero(3) == 3  # no process group: one process
