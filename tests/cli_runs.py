"""Runs of the real CLI in a subprocess for the end-to-end tests, and the tiny CSR module they configure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.paths import REPO


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m lightning_csr.cli ARGS` from the repository, offline, one torch thread per process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "lightning_csr.cli", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def fit(config: Path, *overrides: str) -> subprocess.CompletedProcess:
    """`lightning-csr fit --config CONFIG OVERRIDES...`."""
    return run_cli("fit", "--config", str(config), *overrides)


def write_yaml(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def tiny_csr_model(llava: Path, clip: Path, **extra: Any) -> dict[str, Any]:
    """CSRModule on the tiny LLaVA and CLIP: 3 candidates, 2 short sentences, λ = 0.9, lr 5e-3, no warm-up."""
    return {
        "class_path": "lightning_csr.modules.CSRModule",
        "init_args": {
            "backbone": {
                "class_path": "lightning_csr.backbones.LlavaBackbone",
                "init_args": {"model_id": str(llava), "lora": {"r": 4, "alpha": 8}},
            },
            "clip_model": str(clip),
            "search": {
                "num_candidates": 3,
                "max_sentence_tokens": 6,
                "max_sentences": 2,
                "max_new_tokens": 12,
                "seed": 3,
            },
            "reward": {"lam": 0.9},
            "reference": "ref_adapter",
            "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 5.0e-3}},
            "scheduler": {
                "class_path": "lightning_csr.modules.components.schedules.WarmupCosine",
                "init_args": {"warmup_ratio": 0.0},
            },
            **extra,
        },
    }


def quiet_cpu_trainer(run_dir: Path, iterations: int, callbacks: list[dict[str, Any]]) -> dict[str, Any]:
    """The `trainer` section of an iterative run on the CPU: one epoch per iteration, no logger or bars."""
    return {
        "accelerator": "cpu",
        "max_epochs": iterations,
        "reload_dataloaders_every_n_epochs": 1,
        "num_sanity_val_steps": 0,
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": str(run_dir),
        "callbacks": callbacks,
    }
