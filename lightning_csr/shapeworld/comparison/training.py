"""How `compare` trains a method: the method's YAML config through LightningCLI, with the comparison's overrides."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from lightning_csr.shapeworld.comparison.settings import (
    CONFIG_OF_METHOD,
    CSR_METHODS,
    VARIANT_CONFIGS,
    ComparisonSettings,
)


def shared_arguments(method: str, config: ComparisonSettings, out: Path) -> list[str]:
    """What every method shares: its config under the quiet trainer, seed, epochs, base model, LoRA, LR, beta."""
    lora = {"r": config.lora_r, "alpha": config.lora_alpha, "dropout": 0.0}
    variant = ["--config", VARIANT_CONFIGS[method]] if method in VARIANT_CONFIGS else []
    return [
        "--config",
        config.method_configs[CONFIG_OF_METHOD[method]],
        *variant,
        "--trainer",
        config.trainer_config,
        f"--seed_everything={config.seed}",
        "--ckpt_path=null",  # a fresh run (the CSR config resumes from `last` when run alone)
        f"--trainer.max_epochs={config.epochs}",
        f"--trainer.default_root_dir={out / method}",
        "--trainer.reload_dataloaders_every_n_epochs=1",
        f"--model.init_args.backbone.init_args.model_id={Path(config.data_dir) / 'base_model'}",
        f"--model.init_args.backbone.init_args.lora={json.dumps(lora)}",
        f"--model.init_args.optimizer.init_args.lr={config.lr}",
        f"--model.init_args.loss.beta={config.beta}",
        f"--data.init_args.batch_size={config.batch_size}",
    ]


def pair_arguments(method: str, config: ComparisonSettings, pairs: Path) -> list[str]:
    """DPO, POVID and TPO: the comparison's pair file and no callbacks (`compare` evaluates afterwards)."""
    args = [
        "--trainer.callbacks=[]",
        f"--data.init_args.train_file={pairs}",
        f"--data.init_args.image_root={config.data_dir}",
        f"--data.init_args.seed={config.seed}",
    ]
    if method == "dpo":
        return args
    args += [
        f"--model.init_args.corruption.step={config.corruption_step}",
        f"--model.init_args.corruption.seed={config.seed}",
    ]
    if method == "povid":
        return [
            *args,
            f"--model.init_args.noise_start_epoch={config.povid_noise_start_epoch}",
            f"--model.init_args.text_weight={config.povid_text_weight}",
        ]
    detached = "true" if method == "tpo_detached" else "false"  # detached: token weights as constants
    return [
        *args,
        f"--model.init_args.margin={config.tpo_margin}",
        f"--model.init_args.detach_weights={detached}",
    ]


def csr_arguments(method: str, config: ComparisonSettings) -> list[str]:
    """CSR writes its own pairs each iteration from the first `num_prompts` prompts: regenerate -> sync
    (-> evaluate, with `evaluate_iterations`); the oracle ranks them by this world's exact counts."""
    data = Path(config.data_dir)
    regenerate = {
        "prompts_file": str(data / "prompts" / "train.jsonl"),
        "image_root": str(data),
        "num_prompts": config.num_prompts,
        "batch_size": config.csr_generation_batch_size,
    }
    chain = [
        {"class_path": "lightning_csr.callbacks.PreferenceRegenerationCallback", "init_args": regenerate},
        {"class_path": "lightning_csr.callbacks.ReferenceSyncCallback"},
    ]
    if config.evaluate_iterations:
        scenes = {"data_dir": str(data), "split": config.eval_split, "num_scenes": config.eval_scenes}
        evaluation = {"batch_size": config.eval_batch_size, "max_new_tokens": config.max_new_tokens}
        chain.append(
            {
                "class_path": "lightning_csr.shapeworld.evaluation.ShapeWorldEvalCallback",
                "init_args": {**scenes, **evaluation},
            }
        )
    args = [f"--trainer.callbacks={json.dumps(chain)}", f"--model.init_args.clip_model={data / 'clip'}"]
    if method == "oracle":
        args.append(f"--model.init_args.ranker.init_args.data={data}")
    return [*args, *config.csr_arguments]


def method_arguments(method: str, config: ComparisonSettings, pairs: Path, out: Path) -> list[str]:
    """The LightningCLI arguments that train `method` for the comparison."""
    extra = csr_arguments(method, config) if method in CSR_METHODS else pair_arguments(method, config, pairs)
    return [*shared_arguments(method, config, out), *extra]


def fit(arguments: list[str]) -> Any:
    """`lightning-csr fit` with these arguments, in this process; returns the trained module."""
    from lightning_csr.run_config import CSRCli

    with warnings.catch_warnings():
        # LightningCLI's note that the process has command-line arguments of its own (those of `compare`)
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
        cli = CSRCli(args=["fit", *arguments])
    return cli.model


def train_method(method: str, config: ComparisonSettings, pairs: Path, out: Path) -> Any:
    """Fit `method` as `lightning-csr fit` does (its resolved config lands in `<out>/<method>/config.yaml`)."""
    return fit(method_arguments(method, config, pairs, out))
