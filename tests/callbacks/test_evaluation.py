"""EvaluationCallback: evaluates at fit start and after epochs, writes eval_<benchmark>.json, logs metrics."""

from __future__ import annotations

import json

import lightning as L
import pytest
import torch

from lightning_csr.backbones import LlavaBackbone, LoraSettings
from lightning_csr.callbacks.evaluation import EvaluationCallback
from lightning_csr.data import PreferenceDataModule
from lightning_csr.evaluation.benchmarks import BenchmarkOptions
from lightning_csr.evaluation.report import read_run_history
from lightning_csr.modules import PreferenceModule
from tests.evaluation.test_runner import write_tiny_shapeworld
from tests.trainer import quiet_trainer


def test_callback_evaluates_logs_and_feeds_the_report(tiny_llava_dir, pairs_dir, tmp_path) -> None:
    data = write_tiny_shapeworld(tmp_path / "sw", n=1)
    options = BenchmarkOptions(
        benchmark="shapeworld", data=str(data), num_items=1, max_new_tokens=2, answer_tokens=2
    )
    callback = EvaluationCallback(options, every_n_epochs=2)
    module = PreferenceModule(
        LlavaBackbone(model_id=str(tiny_llava_dir), lora=LoraSettings(r=4, alpha=8)),
        optimizer=lambda params: torch.optim.AdamW(params, lr=1e-2),
    )
    L.seed_everything(0)
    trainer = quiet_trainer(
        max_epochs=2, limit_train_batches=1, default_root_dir=str(tmp_path / "run"), callbacks=[callback]
    )
    trainer.fit(module, PreferenceDataModule(data_dir=str(pairs_dir), batch_size=4))
    run = tmp_path / "run"
    # iteration 0 (fit start) and 2 (every 2nd epoch); not 1
    evaluated = sorted(int(p.parent.name) for p in run.glob("iterations/*/eval_shapeworld.json"))
    assert evaluated == [0, 2]
    saved = json.loads((run / "iterations" / "2" / "eval_shapeworld.json").read_text())
    assert saved["iteration"] == 2 and 0.0 <= saved["metrics"]["chair_s"] <= 1.0
    assert (run / "iterations" / "2" / "answers_shapeworld.jsonl").is_file()
    assert "eval/shapeworld/chair_s" in trainer.callback_metrics
    history = read_run_history(run)
    assert [r.iteration for r in history] == [0, 2] and "recall" in history[0].metrics


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown benchmark"):
        BenchmarkOptions(benchmark="vqa")
    with pytest.raises(ValueError, match="every_n_epochs"):
        EvaluationCallback(BenchmarkOptions(benchmark="chair"), every_n_epochs=0)
