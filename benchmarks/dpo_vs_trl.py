"""Samples/s of our PreferenceModule vs TRL's DPOTrainer on the same tiny LLaVA, pairs, precision and batch.

    python benchmarks/dpo_vs_trl.py [--model DIR] [--steps 30] [--batch-size 4] [--rounds 2]

Needs the `bench` extra (`pip install -e ".[bench]"` installs trl). Runs alternate (ours, ours cached, TRL)
`--rounds` times in one process; each configuration's best round is reported with the ratios to TRL.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from PIL import Image

from lightning_csr.backbones import LlavaBackbone, LoraSettings
from lightning_csr.data import PreferenceDataModule
from lightning_csr.modules import PreferenceModule

WORDS = [
    "red",
    "blue",
    "green",
    "star",
    "circle",
    "square",
    "ring",
    "cross",
    "small",
    "large",
    "left",
    "right",
    "top",
    "bottom",
    "there",
    "is",
    "a",
    "the",
]


def make_pairs(root: Path, n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        Image.new("RGB", (64, 64), tuple(rng.randrange(256) for _ in range(3))).save(root / f"images/{i}.png")
        chosen = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 24)))
        rejected = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 24)))
        rows.append(
            {
                "id": str(i),
                "image": f"images/{i}.png",
                "prompt": "describe the image",
                "chosen": chosen,
                "rejected": rejected,
            }
        )
    (root / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


class TrainTimer(L.Callback):
    """Wall time of the training loop alone (model loading and set-up excluded, as TRL's train_runtime)."""

    def on_train_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        self.seconds = time.perf_counter() - self.start


def run_ours(model_dir: str, data_dir: Path, steps: int, batch_size: int, cache: bool) -> float:
    from tests.trainer import quiet_trainer  # the repository's tests/ is on the path (see `main`)

    L.seed_everything(0, verbose=False)
    backbone = LlavaBackbone(model_id=model_dir, lora=LoraSettings(r=8, alpha=16))
    module = PreferenceModule(
        backbone, cache_reference=cache, optimizer=lambda p: torch.optim.AdamW(p, lr=1e-4)
    )
    data = PreferenceDataModule(data_dir=str(data_dir), batch_size=batch_size)
    timer = TrainTimer()
    trainer = quiet_trainer(max_steps=steps, callbacks=[timer])
    if cache:  # the cache is built once per dataset version; time the training that uses it
        quiet_trainer(max_steps=1).fit(
            PreferenceModule(
                LlavaBackbone(model_id=model_dir, lora=LoraSettings(r=8, alpha=16)), cache_reference=True
            ),
            PreferenceDataModule(data_dir=str(data_dir), batch_size=batch_size),
        )
    trainer.fit(module, data)
    return steps * batch_size / timer.seconds


def run_trl(model_dir: str, rows: list[dict], data_dir: Path, steps: int, batch_size: int) -> float:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import DPOConfig, DPOTrainer

    def convert(row):
        return {
            "images": [Image.open(data_dir / row["image"]).convert("RGB")],
            "prompt": [
                {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": row["prompt"]}]}
            ],
            "chosen": [{"role": "assistant", "content": [{"type": "text", "text": row["chosen"]}]}],
            "rejected": [{"role": "assistant", "content": [{"type": "text", "text": row["rejected"]}]}],
        }

    torch.manual_seed(0)
    dataset = Dataset.from_list([convert(r) for r in rows])
    model = AutoModelForImageTextToText.from_pretrained(model_dir)
    processor = AutoProcessor.from_pretrained(model_dir)
    backbone = LlavaBackbone(model_id=model_dir)
    peft = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=backbone.lora_target_regex())
    with tempfile.TemporaryDirectory() as out:
        args = DPOConfig(
            output_dir=out,
            per_device_train_batch_size=batch_size,
            max_steps=steps,
            learning_rate=1e-4,
            logging_steps=1000,
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            bf16=False,
            gradient_checkpointing=False,
            max_length=None,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        trainer = DPOTrainer(
            model=model, args=args, train_dataset=dataset, processing_class=processor, peft_config=peft
        )
        result = trainer.train()
        return steps * batch_size / result.metrics["train_runtime"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="data/shapeworld/base_model", help="a tiny LLaVA directory")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    model_dir = args.model
    if not Path(model_dir, "config.json").is_file():
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests/
        from tests.tiny_models import tiny_llava

        model_dir = str(tiny_llava(Path(tempfile.mkdtemp()) / "tiny_llava", image_size=64))
        print(f"{args.model} not found; using a random tiny LLaVA at {model_dir}")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        rows = make_pairs(data_dir, args.steps * args.batch_size)
        best = {"ours": 0.0, "ours_cached": 0.0, "trl": 0.0}
        for _ in range(args.rounds):
            best["ours"] = max(
                best["ours"], run_ours(model_dir, data_dir, args.steps, args.batch_size, False)
            )
            best["ours_cached"] = max(
                best["ours_cached"], run_ours(model_dir, data_dir, args.steps, args.batch_size, True)
            )
            best["trl"] = max(best["trl"], run_trl(model_dir, rows, data_dir, args.steps, args.batch_size))
    print(
        f"model {model_dir}, {args.steps} steps x batch {args.batch_size}, fp32, CPU, best of {args.rounds}"
    )
    for name, value in best.items():
        print(f"{name:>12}: {value:7.2f} samples/s")
    print(f"ratio ours/TRL (uncached reference): {best['ours'] / best['trl']:.2f}x  (goal >= 1.2x)")
    print(f"ratio ours/TRL (cached reference):   {best['ours_cached'] / best['trl']:.2f}x  (goal >= 1.5x)")


if __name__ == "__main__":
    main()
