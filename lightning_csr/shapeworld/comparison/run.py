"""`lightning-csr compare`: DPO, POVID, TPO and CSR from one ShapeWorld base model, same prompts and budget.

Every method starts from `base_model/` with the same LoRA, learning rate, batch size, number of epochs and
prompts (the first `num_prompts` of `prompts/train.jsonl`), each from its own YAML config run through
LightningCLI with these as overrides (`training.py`). DPO, POVID and TPO train on one pair file: ground-truth
description vs the rule-injected one; CSR writes its own pairs each iteration (an epoch). Each policy is then
scored on held-out test scenes (CHAIR, recall, POPE F1).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lightning_csr.data.records import atomic_write_text
from lightning_csr.shapeworld.comparison.report import bar_chart, evaluate, markdown_table
from lightning_csr.shapeworld.comparison.settings import METHODS, ComparisonSettings
from lightning_csr.shapeworld.comparison.training import train_method

__all__ = ["METHODS", "ComparisonSettings", "compare", "make_pairs", "run_method"]


def make_pairs(config: ComparisonSettings, out: Path) -> Path:
    """Ground truth vs rule-injected descriptions for the first `num_prompts` prompts."""
    from lightning_csr.data.injection import RuleBasedInjector, inject_pairs
    from lightning_csr.data.records import write_records
    from lightning_csr.shapeworld import WorldSettings
    from lightning_csr.shapeworld.povid import shapeworld_answers, world_vocabulary
    from lightning_csr.shapeworld.world.files import read_scenes

    root = Path(config.data_dir)
    vocabulary = world_vocabulary(WorldSettings.load(root / "world.json"), read_scenes(root, "train"))
    injector = RuleBasedInjector(vocabulary, config.num_edits, seed=config.seed)
    answers = shapeworld_answers(root, "train", config.seed)[: config.num_prompts]
    pairs, failed = inject_pairs(answers, injector, "rule")
    path = out / "pairs.jsonl"
    write_records(path, pairs)
    print(f"pairs: {len(pairs)} written, {len(failed)} without enough facts to edit")
    return path


def run_method(method: str, config: ComparisonSettings, pairs: Path, out: Path) -> dict[str, Any]:
    """Train one method (timed), evaluate it, and return its row."""
    from lightning_csr.backbones import LlavaBackbone

    start = time.perf_counter()
    if method == "base":
        backbone = LlavaBackbone(model_id=str(Path(config.data_dir) / "base_model"))
        model = backbone.load_model()
    else:
        module = train_method(method, config, pairs, out)
        model, backbone = module.policy, module.backbone
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    metrics = evaluate(model, backbone, config)
    return {"method": method, "train_s": train_s, "eval_s": time.perf_counter() - start, "metrics": metrics}


def compare(config: ComparisonSettings) -> list[dict[str, Any]]:
    """Train and evaluate every method; write results.json, table.md and methods.png under `out_dir`."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pairs = make_pairs(config, out)
    rows = []
    for method in config.methods:
        try:
            rows.append(run_method(method, config, pairs, out))
        except (FloatingPointError, RuntimeError, ValueError) as error:  # one failed method keeps the others
            print(f"{method}: FAILED: {error}")
            continue
        print(
            f"{method}: train {rows[-1]['train_s']:.0f} s, eval {rows[-1]['eval_s']:.0f} s, {rows[-1]['metrics']}"
        )
        atomic_write_text(
            out / "results.json", json.dumps({"config": asdict(config), "rows": rows}, indent=1)
        )
    table = markdown_table(rows, config)
    atomic_write_text(out / "table.md", table)
    bar_chart(rows, out / "methods.png")
    print(table)
    return rows
