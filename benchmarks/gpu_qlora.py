"""QLoRA on one GPU at full size, without the hub: LLaVA-1.5-7B and Qwen2-VL-2B from their real `config.json`.

For each model, random weights built straight into 4-bit (`random_4bit.py`: one decoder layer at a time on the
GPU, no fp32 copy on the host), then through our backbone adapter and `PreferenceModule`:
  1. a QLoRA DPO step on one pair at --tokens tokens per sequence (chosen + rejected rows, LoRA r=--rank on the
     language model, gradient checkpointing, bf16 autocast, AdamW): peak GPU memory and mean step time;
  2. CSR sentence search (`SearchSettings.code`: diverse candidates, pruning) on --prompts prompts: tokens/s,
     against plain `generate` (KV cache) producing the same number of tokens.
Prints a table and writes JSON. Goal: peak <= 16 GB for the 7B step (fits a 24 GB card). Needs CUDA and the real
processor folder (--real-processors, else $LIGHTNING_CSR_REAL_PROCESSORS, else ../shared/real_processors beside
the repository). On a machine without CUDA it says so and exits 0.

    python benchmarks/gpu_qlora.py [--models llava,qwen2_vl] [--tokens 1024] [--out runs/gpu_qlora.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
# family -> (real-processor folder, image size fed to the processor)
MODELS = {"llava": ("llava-1.5-7b-hf", (336, 336)), "qwen2_vl": ("Qwen2-VL-2B-Instruct", (448, 448))}
GB = 1024**3


def real_processors(path: str | None) -> Path:
    path = (
        path or os.environ.get("LIGHTNING_CSR_REAL_PROCESSORS") or str(REPO.parent / "shared/real_processors")
    )
    if not Path(path).is_dir():
        raise SystemExit(f"gpu_qlora: no real processor folder at {path}: pass --real-processors DIR")
    return Path(path)


def measure(family: str, folder: Path, args) -> dict:
    from gpu_measures import dpo_batch, dpo_steps, search_vs_generate
    from random_4bit import random_backbone

    from lightning_csr.modules import PreferenceModule

    torch.manual_seed(0)
    device = torch.device("cuda", torch.cuda.current_device())
    backbone = random_backbone(family, folder, args.rank, device)
    size = MODELS[family][1]
    module = PreferenceModule(backbone)
    start = time.perf_counter()
    module.configure_model()
    module.to(device)
    build_s = time.perf_counter() - start
    result = {
        "model": f"{folder.name} (random 4-bit NF4)",
        "build_s": build_s,
        "weights_gb": torch.cuda.memory_allocated() / GB,
        "tokens_per_sequence": args.tokens,
        "lora_r": args.rank,
    }
    result |= dpo_steps(module, dpo_batch(backbone, size, args.tokens), args.steps)
    torch.cuda.empty_cache()
    result |= search_vs_generate(module.policy, backbone, size, args.prompts, args.candidates)
    del module
    torch.cuda.empty_cache()
    return result


def print_table(results: Sequence[dict]) -> None:
    columns = [
        ("model", "model", "{}"),
        ("weights GB", "weights_gb", "{:.2f}"),
        ("peak alloc GB", "peak_allocated_gb", "{:.2f}"),
        ("peak reserved GB", "peak_reserved_gb", "{:.2f}"),
        ("DPO step s", "step_s", "{:.2f}"),
        ("search tok/s", "search_tokens_per_s", "{:.1f}"),
        ("generate tok/s", "generate_tokens_per_s", "{:.1f}"),
        ("search/generate time", "search_time_vs_generate", "{:.2f}x"),
    ]
    rows = [[fmt.format(r[key]) for _, key, fmt in columns] for r in results]
    widths = [max(len(title), *(len(row[i]) for row in rows)) for i, (title, _, _) in enumerate(columns)]
    print(" | ".join(title.ljust(w) for (title, _, _), w in zip(columns, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--real-processors", default=None, help="folder with the real config and processor files"
    )
    parser.add_argument("--models", default="llava,qwen2_vl", help=f"comma-separated, from {sorted(MODELS)}")
    parser.add_argument(
        "--tokens", type=int, default=1024, help="tokens per sequence (chosen and rejected rows)"
    )
    parser.add_argument("--rank", type=int, default=128, help="LoRA rank on the language model")
    parser.add_argument("--steps", type=int, default=3, help="timed DPO steps after one warm-up step")
    parser.add_argument("--prompts", type=int, default=4, help="search prompts")
    parser.add_argument("--candidates", type=int, default=5, help="search candidates per node")
    parser.add_argument("--out", default="runs/gpu_qlora.json")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_qlora: no CUDA device on this machine; nothing measured (run it on a GPU)")
        return 0
    families = args.models.split(",")
    unknown = sorted(set(families) - set(MODELS))
    if unknown:
        parser.error(f"--models: unknown {unknown}; choose from {sorted(MODELS)}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # random_4bit.py, gpu_measures.py
    folder = real_processors(args.real_processors)
    results = [measure(family, folder / MODELS[family][0], args) for family in families]
    print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}")
    print_table(results)
    seven_b = [r for r in results if r["model"].startswith("llava")]
    for r in seven_b:
        verdict = "meets" if r["peak_reserved_gb"] <= 16 else "misses"
        print(
            f"LLaVA-1.5-7B QLoRA DPO step: peak reserved {r['peak_reserved_gb']:.2f} GB {verdict} the 16 GB goal"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "results": results}
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
