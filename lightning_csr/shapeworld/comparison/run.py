"""`lightning-csr compare`: DPO, POVID, TPO and CSR from one ShapeWorld base model, same prompts and budget.

Every method starts from `base_model/` with the same LoRA, learning rate, batch size, number of epochs and
prompts (the first `num_prompts` of `prompts/train.jsonl`). DPO, POVID and TPO train on one pair file:
ground-truth description vs the rule-injected one; CSR writes its own pairs each iteration (an epoch) with
`configs/csr/shapeworld.yaml`. Each policy is then scored on held-out test scenes (CHAIR, recall, POPE F1).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lightning_csr.data.records import atomic_write_text
from lightning_csr.shapeworld.comparison.report import bar_chart, evaluate, markdown_table

METHODS = ("base", "dpo", "povid", "tpo", "tpo_detached", "csr")


@dataclass
class ComparisonConfig:
    """What `compare` runs; paths are relative to the working directory."""

    data_dir: str = "data/shapeworld"
    out_dir: str = "runs/compare_shapeworld"
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    num_prompts: int = 256
    epochs: int = 2
    batch_size: int = 8
    lr: float = 2.0e-4
    lora_r: int = 16
    lora_alpha: int = 32
    beta: float = 0.1
    num_edits: int = 2
    seed: int = 0
    povid_noise_start_epoch: int = 1
    povid_text_weight: float = 0.5
    corruption_step: int = 500
    tpo_margin: float = 0.5
    csr_config: str = "configs/csr/shapeworld.yaml"
    eval_split: str = "test"
    eval_scenes: int = 100
    eval_batch_size: int = 50
    max_new_tokens: int = 64

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"methods: unknown {unknown}; known: {list(METHODS)}")

    @classmethod
    def load(cls, path: str | Path) -> ComparisonConfig:
        return cls(**(yaml.safe_load(Path(path).read_text()) or {}))


def make_pairs(config: ComparisonConfig, out: Path) -> Path:
    """Ground truth vs rule-injected descriptions for the first `num_prompts` prompts."""
    from lightning_csr.commands.povid_inject import inject_pairs, shapeworld_answers
    from lightning_csr.data.injection import InjectionVocabulary, RuleBasedInjector
    from lightning_csr.data.records import write_records
    from lightning_csr.shapeworld import WorldConfig
    from lightning_csr.shapeworld.build.prepare import read_scenes

    root = Path(config.data_dir)
    vocabulary = InjectionVocabulary.from_world(
        WorldConfig.load(root / "world.json"), read_scenes(root, "train")
    )
    injector = RuleBasedInjector(vocabulary, config.num_edits, seed=config.seed)
    answers = shapeworld_answers(root, "train", config.seed)[: config.num_prompts]
    pairs, failed = inject_pairs(answers, injector, "rule")
    path = out / "pairs.jsonl"
    write_records(path, pairs)
    print(f"pairs: {len(pairs)} written, {len(failed)} without enough facts to edit")
    return path


def trainer(config: ComparisonConfig, root_dir: Path, callbacks: Sequence[Any] = ()) -> Any:
    import lightning as L

    return L.Trainer(
        accelerator="cpu",
        precision="32-true",
        max_epochs=config.epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=str(root_dir),
        reload_dataloaders_every_n_epochs=1,
        callbacks=list(callbacks),
    )


def pair_module(method: str, config: ComparisonConfig) -> Any:
    """The DPO, POVID or TPO module with the shared backbone, LoRA and optimiser."""
    import torch

    from lightning_csr.backbones import LlavaBackbone, LoraSettings
    from lightning_csr.losses.dpo import DPOLossConfig
    from lightning_csr.modules import PreferenceModule
    from lightning_csr.modules.components.image_corruption import CorruptionSettings
    from lightning_csr.modules.povid import POVIDModule
    from lightning_csr.modules.tpo import TPOModule

    backbone = LlavaBackbone(
        model_id=str(Path(config.data_dir) / "base_model"),
        lora=LoraSettings(r=config.lora_r, alpha=config.lora_alpha),
    )
    common = {
        "loss": DPOLossConfig(beta=config.beta),
        "optimizer": lambda params: torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0),
    }
    corruption = CorruptionSettings(step=config.corruption_step, seed=config.seed)
    if method == "dpo":
        return PreferenceModule(backbone, **common)
    if method in ("tpo", "tpo_detached"):  # detached: token weights as constants (DPO with a margin)
        detach = method == "tpo_detached"
        return TPOModule(
            backbone, corruption=corruption, margin=config.tpo_margin, detach_weights=detach, **common
        )
    return POVIDModule(
        backbone,
        noise_start_epoch=config.povid_noise_start_epoch,
        text_weight=config.povid_text_weight,
        reference="ref_adapter",
        reference_from_stage1=True,
        corruption=corruption,
        **common,
    )


def train_on_pairs(method: str, config: ComparisonConfig, pairs: Path, out: Path) -> Any:
    import lightning as L

    from lightning_csr.data import PreferenceDataModule

    L.seed_everything(config.seed)
    module = pair_module(method, config)
    data = PreferenceDataModule(
        train_file=str(pairs), image_root=config.data_dir, batch_size=config.batch_size, seed=config.seed
    )
    trainer(config, out / method).fit(module, data)
    return module


def train_csr(config: ComparisonConfig, out: Path) -> Any:
    """CSR from its shipped config: same base model, LoRA, LR, batch, prompts and number of epochs."""
    import lightning as L

    from lightning_csr.cli import load_run

    raw = yaml.safe_load(Path(config.csr_config).read_text())
    model = raw["model"]["init_args"]
    model["backbone"]["init_args"]["model_id"] = str(Path(config.data_dir) / "base_model")
    model["backbone"]["init_args"]["lora"] = {"r": config.lora_r, "alpha": config.lora_alpha, "dropout": 0.0}
    model["clip_model"] = str(Path(config.data_dir) / "clip")
    model["optimizer"]["init_args"]["lr"] = config.lr
    model["loss"]["beta"] = config.beta
    raw["data"]["init_args"]["batch_size"] = config.batch_size
    callbacks = []
    for callback in raw["trainer"].get("callbacks", []):
        name = callback["class_path"].rsplit(".", 1)[-1]
        if name == "PreferenceRegenerationCallback":
            callback["init_args"].update(
                prompts_file=str(Path(config.data_dir) / "prompts/train.jsonl"),
                image_root=config.data_dir,
                num_prompts=config.num_prompts,
                run_dir=str(out / "csr"),
            )
        if name in ("PreferenceRegenerationCallback", "ReferenceSyncCallback"):
            callbacks.append(callback)
    raw["trainer"] = {**raw["trainer"], "callbacks": callbacks, "max_epochs": config.epochs}
    raw["trainer"].update(default_root_dir=str(out / "csr"), logger=False, enable_checkpointing=False)
    raw["trainer"]["enable_progress_bar"] = False
    config_path = out / "csr_config.yaml"
    atomic_write_text(config_path, yaml.safe_dump(raw))
    L.seed_everything(config.seed)
    run = load_run(config_path)
    run.trainer.fit(run.model, run.datamodule)
    return run.model


def run_method(method: str, config: ComparisonConfig, pairs: Path, out: Path) -> dict[str, Any]:
    """Train one method (timed), evaluate it, and return its row."""
    from lightning_csr.backbones import LlavaBackbone

    start = time.perf_counter()
    if method == "base":
        backbone = LlavaBackbone(model_id=str(Path(config.data_dir) / "base_model"))
        model = backbone.load_model()
    else:
        module = train_csr(config, out) if method == "csr" else train_on_pairs(method, config, pairs, out)
        model, backbone = module.policy, module.backbone
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    metrics = evaluate(model, backbone, config)
    return {"method": method, "train_s": train_s, "eval_s": time.perf_counter() - start, "metrics": metrics}


def compare(config: ComparisonConfig) -> list[dict[str, Any]]:
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


def main(argv: Sequence[str]) -> None:
    """`lightning-csr compare --config configs/compare/shapeworld.yaml [--methods dpo tpo ...]`."""
    parser = argparse.ArgumentParser(prog="lightning-csr compare", description=__doc__)
    parser.add_argument("--config", default="configs/compare/shapeworld.yaml")
    parser.add_argument("--methods", nargs="+", choices=METHODS, help="override the config's methods")
    parser.add_argument("--out_dir", help="override the config's out_dir")
    args = parser.parse_args(argv)
    config = ComparisonConfig.load(args.config)
    if args.methods:
        config.methods = args.methods
    if args.out_dir:
        config.out_dir = args.out_dir
    compare(config)
