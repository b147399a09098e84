"""The shipped ShapeWorld CSR config under DDP (2 CPU processes, gloo) on the tiny prepared world, through the CLI.

The 2-process run equals the 1-process run accumulating 2 batches: the same pairs bytes every iteration, and the
ShapeWorld evaluation, answered by slices of batches per rank, gives the same eval.json and summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.paths import REPO

pytestmark = pytest.mark.slow


def fit(cwd: Path, run: str, *overrides: str) -> subprocess.CompletedProcess:
    chain = [
        {
            "class_path": "lightning_csr.callbacks.PreferenceRegenerationCallback",
            "init_args": {
                "prompts_file": "data/shapeworld/prompts/train.jsonl",
                "image_root": "data/shapeworld",
                "num_prompts": 8,
                "batch_size": 2,
            },
        },
        {"class_path": "lightning_csr.callbacks.ReferenceSyncCallback"},
        {
            "class_path": "lightning_csr.shapeworld.evaluation.ShapeWorldEvalCallback",
            "init_args": {
                "data_dir": "data/shapeworld",
                "num_scenes": 4,
                "batch_size": 2,
                "max_new_tokens": 16,
            },
        },
        {
            "class_path": "lightning_csr.callbacks.LatestCheckpoint",
            "init_args": {"dirpath": f"{run}/checkpoints"},
        },
    ]
    (cwd / f"{run}.yaml").write_text(yaml.safe_dump(chain))
    command = [
        *(sys.executable, "-m", "lightning_csr.cli", "fit"),
        *("--config", str(REPO / "configs" / "csr" / "shapeworld.yaml")),
        *("--trainer.callbacks", f"{run}.yaml", "--trainer.default_root_dir", run),
        *("--trainer.max_epochs", "2", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"),
        *("--data.init_args.batch_size", "2", "--model.init_args.search.max_new_tokens", "32"),
        *overrides,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_shapeworld_csr_config_on_two_processes_equals_one_process(prepared, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "shapeworld").symlink_to(prepared[0])
    one = fit(tmp_path, "one", "--trainer.accumulate_grad_batches", "2")
    assert one.returncode == 0, one.stderr[-3000:]
    two = fit(tmp_path, "two", "--trainer.devices", "2", "--trainer.strategy", "ddp")
    assert two.returncode == 0, two.stderr[-3000:]
    for iteration in (1, 2):
        pairs = f"iterations/{iteration}/pairs.jsonl"
        assert (tmp_path / "one" / pairs).read_bytes() == (tmp_path / "two" / pairs).read_bytes(), pairs
    for iteration in (0, 1, 2):
        evaluation = f"iterations/{iteration}/eval.json"
        one_eval, two_eval = (json.loads((tmp_path / run / evaluation).read_text()) for run in ("one", "two"))
        assert one_eval == two_eval and len(two_eval["scenes"]) == 4, evaluation
    assert (tmp_path / "one" / "summary.json").read_text() == (tmp_path / "two" / "summary.json").read_text()
