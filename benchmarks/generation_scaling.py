"""Pairs/s of CSR generation with 1 and 2 processes (1 thread each), and DPO samples/s under DDP with 2.

    python benchmarks/generation_scaling.py [--data data/shapeworld] [--prompts 96] [--batch-size 4]
                                            [--dpo-steps 24] [--dpo-batch 4] [--rounds 2]

Each process is a rank of a gloo group, as under `--trainer.strategy ddp` on the CPU. Generation runs the real
`PreferenceRegenerationCallback.generate` (its shards dealt out by rank, merged by rank 0) on the prepared
ShapeWorld (its base model, CLIP and training prompts; `lightning-csr shapeworld prepare --out DIR`) and checks
that both runs wrote the same `pairs.jsonl` bytes. The DPO part times Lightning's training loop (set-up excluded)
on the same model with the pairs just generated. The 1- and 2-process runs alternate `--rounds` times and each
keeps its best round (the machine may be shared). Goal: generation >= 1.7x with 2 processes.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lightning_csr.backbones import LlavaBackbone, LoraSettings
from lightning_csr.callbacks import PreferenceRegenerationCallback
from lightning_csr.data import PreferenceDataModule
from lightning_csr.data.prompts import read_prompts
from lightning_csr.generation import SearchSettings
from lightning_csr.modules import CSRModule, PreferenceModule
from lightning_csr.rewards.calibrated import RewardSettings

SEARCH = SearchSettings(num_candidates=4, max_sentence_tokens=24, max_sentences=3, max_new_tokens=48, seed=0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rank_environment(rank: int, world_size: int, port: int) -> None:
    """What torchrun would set: Lightning then joins these processes instead of starting its own."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        NODE_RANK="0",
    )


def generate(rank: int, world_size: int, port: int, args: argparse.Namespace, out: Path) -> None:
    """One rank's share of one iteration's pairs; rank 0 records the wall time."""
    torch.set_num_threads(1)
    rank_environment(rank, world_size, port)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        data = Path(args.data)
        backbone = LlavaBackbone(model_id=str(data / "base_model"), lora=LoraSettings(r=8, alpha=16))
        module = CSRModule(
            backbone, search=SEARCH, reward=RewardSettings(lam=0.9), clip_model=str(data / "clip")
        )
        module.configure_model()
        callback = PreferenceRegenerationCallback(
            str(data / "prompts" / "train.jsonl"), str(data), args.prompts, args.batch_size
        )
        callback.prompts = read_prompts(callback.prompts_file, args.prompts)
        _ = module.image_scorer  # load CLIP before the clock starts
        dist.barrier()
        start = time.perf_counter()
        callback.generate(module, 1, out)
        seconds = time.perf_counter() - start
        if rank == 0:
            pairs = json.loads((out / "stats.json").read_text())["pairs"]
            (out / "timing.json").write_text(json.dumps({"seconds": seconds, "pairs": pairs}))
    finally:
        dist.destroy_process_group()


class LoopClock(L.Callback):
    """Wall time of the training loop alone (model loading and set-up excluded)."""

    def on_train_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        self.seconds = time.perf_counter() - self.start


def train_dpo(
    rank: int, world_size: int, port: int, args: argparse.Namespace, pairs: Path, out: Path
) -> None:
    """`dpo_steps` DPO steps of `dpo_batch` pairs per rank under Lightning's DDP strategy."""
    torch.set_num_threads(1)
    rank_environment(rank, world_size, port)
    L.seed_everything(0)
    backbone = LlavaBackbone(model_id=str(Path(args.data) / "base_model"), lora=LoraSettings(r=8, alpha=16))
    module = PreferenceModule(backbone, optimizer=lambda params: torch.optim.AdamW(params, lr=1e-4))
    clock = LoopClock()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=world_size,
        strategy="ddp" if world_size > 1 else "auto",
        max_steps=args.dpo_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
    )
    data = PreferenceDataModule(data_dir=str(pairs.parent), batch_size=args.dpo_batch, image_root=args.data)
    trainer.fit(module, data)
    if trainer.is_global_zero:
        samples = args.dpo_steps * args.dpo_batch * world_size
        (out / "dpo.json").write_text(json.dumps({"seconds": clock.seconds, "pairs": samples}))


def run(target, world_size: int, *args) -> None:
    mp.spawn(target, args=(world_size, free_port(), *args), nprocs=world_size)


def best_rates(label: str, rounds: int, root: Path, launch, result: str) -> dict[int, float]:
    """{processes: best pairs/s} over `rounds` alternating rounds of `launch(processes, out)` with 1 and 2
    processes, each writing `<out>/<result>` ({"seconds", "pairs"}); prints every round."""
    best: dict[int, float] = {}
    for round_ in range(rounds):
        for world_size in (1, 2):
            out = root / f"{label.lower()}_{world_size}_{round_}"
            out.mkdir()
            launch(world_size, out)
            timing = json.loads((out / result).read_text())
            rate = timing["pairs"] / timing["seconds"]
            best[world_size] = max(best.get(world_size, 0.0), rate)
            print(
                f"{label}, {world_size} process(es), round {round_ + 1}: {timing['pairs']} pairs in "
                f"{timing['seconds']:.1f} s = {rate:.2f} pairs/s"
            )
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="data/shapeworld", help="a prepared ShapeWorld directory")
    parser.add_argument("--prompts", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=4, help="prompts per shard")
    parser.add_argument("--dpo-steps", type=int, default=24)
    parser.add_argument("--dpo-batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each is kept")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp())
    pairs = best_rates(
        "generation", args.rounds, root, lambda size, out: run(generate, size, args, out), "timing.json"
    )
    first = [(root / f"generation_{w}_0" / "pairs.jsonl").read_bytes() for w in (1, 2)]
    print(f"pairs.jsonl identical with 1 and 2 processes: {first[0] == first[1]}")
    print(f"generation speed-up with 2 processes (best rounds): {pairs[2] / pairs[1]:.2f}x (goal >= 1.7x)")
    generated = root / "generation_1_0" / "pairs.jsonl"
    dpo = best_rates(
        "DPO", args.rounds, root, lambda size, out: run(train_dpo, size, args, generated, out), "dpo.json"
    )
    print(
        f"DPO speed-up with 2 processes (DDP, {args.dpo_batch} pairs per rank per step, best rounds): "
        f"{dpo[2] / dpo[1]:.2f}x"
    )


if __name__ == "__main__":
    main()
