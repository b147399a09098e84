"""DPO with cached reference log-probs under DDP (2 CPU processes, gloo) through the real CLI.

Each rank computes every other batch of the reference log-probs, rank 0 alone writes the cache, and training on
2 ranks equals one process accumulating 2 batches: the cached values and the final weights are the same bits,
the per-step losses agree within 1e-6 (the 2-process loss is the mean of the ranks' losses, the one-process loss
the sum of two halves). The evaluation callback answers its questions by slices of batches, one per rank, and
rank 0 writes the same report as one process.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from tests.callbacks.rank_probe import read_probe
from tests.callbacks.rank_probe import writers as probe_writers
from tests.cli_runs import fit as cli_fit
from tests.cli_runs import write_yaml
from tests.conftest import write_pairs
from tests.evaluation.test_runner import write_tiny_shapeworld
from tests.paths import REPO

pytestmark = pytest.mark.slow


def fit(tmp_path: Path, run: str, llava: Path, *overrides: str) -> subprocess.CompletedProcess:
    config = yaml.safe_load((REPO / "configs/dpo/tiny_cpu.yaml").read_text())
    run_dir = tmp_path / run
    config["trainer"].update(
        default_root_dir=str(run_dir),
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[
            {
                "class_path": "tests.callbacks.rank_probe.RankProbe",
                "init_args": {"log_dir": str(tmp_path / f"{run}.probe"), "watch": str(tmp_path)},
            },
            {
                "class_path": "lightning_csr.callbacks.EvaluationCallback",
                "init_args": {
                    "options": {
                        "benchmark": "shapeworld",
                        "data": str(tmp_path / "shapeworld"),
                        "num_items": 3,
                        "batch_size": 2,
                        "max_new_tokens": 3,
                        "answer_tokens": 2,
                    }
                },
            },
            {
                "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                "init_args": {"dirpath": str(run_dir / "checkpoints"), "save_last": True},
            },
        ],
    )
    config["model"]["init_args"]["backbone"]["init_args"]["model_id"] = str(llava)
    config["model"]["init_args"]["cache_reference"] = True
    config["data"]["init_args"].update(data_dir=str(tmp_path / run / "data"), batch_size=2)
    write_pairs(run_dir / "data", n=8)
    return cli_fit(write_yaml(tmp_path / f"{run}.yaml", config), *overrides)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_llava_dir) -> Path:
    tmp_path = tmp_path_factory.mktemp("ddp_dpo")
    write_tiny_shapeworld(tmp_path / "shapeworld", n=3)
    one = fit(tmp_path, "one", tiny_llava_dir, "--trainer.accumulate_grad_batches", "2")
    assert one.returncode == 0, one.stderr[-3000:]
    two = fit(tmp_path, "two", tiny_llava_dir, "--trainer.devices", "2", "--trainer.strategy", "ddp")
    assert two.returncode == 0, two.stderr[-3000:]
    return tmp_path


def test_two_processes_train_to_the_one_process_weights_and_losses(runs):
    one, two = (
        torch.load(runs / run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
        for run in ("one", "two")
    )
    assert one["global_step"] == two["global_step"] == 2
    assert one["state_dict"].keys() == two["state_dict"].keys()
    for key, value in one["state_dict"].items():
        assert torch.equal(value, two["state_dict"][key]), key
    one_probe, two_probe = read_probe(runs / "one.probe"), read_probe(runs / "two.probe")
    one_losses = [e["loss"] for e in one_probe[0] if e["event"] == "batch"]
    ranks = [[e["loss"] for e in two_probe[r] if e["event"] == "batch"] for r in (0, 1)]
    for step, (zero, first) in enumerate(zip(*ranks, strict=True)):
        assert (zero + first) / 2 == pytest.approx(one_losses[2 * step] + one_losses[2 * step + 1], abs=1e-6)


def test_the_reference_cache_is_computed_by_slices_and_written_by_rank_zero_only(runs):
    (one_cache,) = (runs / "one" / "data").glob("ref_logps-*.pt")
    (two_cache,) = (runs / "two" / "data").glob("ref_logps-*.pt")
    assert torch.load(one_cache) == torch.load(two_cache) and len(torch.load(two_cache)) == 8
    writers = {path: ranks for path, ranks in probe_writers(runs / "two.probe").items() if "/two/" in path}
    assert writers[str(two_cache.resolve())] == {0}
    rank_one = {Path(p).name for p, r in writers.items() if r != {0}}
    assert rank_one == {"answers_shapeworld.rank1.jsonl"}, "rank 1 wrote another rank's file"


def test_the_evaluation_is_answered_by_slices_and_reported_once_as_one_process_reports(runs):
    for iteration in (0, 1):
        directory = f"iterations/{iteration}"
        one = json.loads((runs / "one" / directory / "eval_shapeworld.json").read_text())
        two = json.loads((runs / "two" / directory / "eval_shapeworld.json").read_text())
        assert one["metrics"] == two["metrics"] and one["details"] == two["details"]
        answers = [
            read_answers(runs / "two" / directory / f"answers_shapeworld.rank{rank}.jsonl") for rank in (0, 1)
        ]
        assert answers[0] and answers[1] and not answers[0].keys() & answers[1].keys()
        assert answers[0] | answers[1] == read_answers(runs / "one" / directory / "answers_shapeworld.jsonl")


def read_answers(path: Path) -> dict[str, str]:
    return {
        json.dumps(row["id"]): row["record"]["answer"]
        for row in (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    }


def test_qlora_trains_under_ddp_with_both_ranks_in_step(runs, tiny_llava_dir):
    """4-bit QLoRA (bitsandbytes on the CPU) + LoRA under DDP: it trains, and the ranks keep the same weights."""
    pytest.importorskip("bitsandbytes")
    quantization = "--model.init_args.backbone.init_args.quantization"
    result = fit(
        runs,
        "qlora",
        tiny_llava_dir,
        *("--trainer.devices", "2", "--trainer.strategy", "ddp"),
        *(f"{quantization}.bits", "4", f"{quantization}.compute_dtype", "float32"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    probe = read_probe(runs / "qlora.probe")
    weights = {(r, e["epoch"]): e["digest"] for r, es in probe.items() for e in es if e["event"] == "weights"}
    assert weights[(0, 0)] == weights[(1, 0)] and weights[(0, -1)] == weights[(1, -1)]
    state = torch.load(runs / "qlora" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert any("lora_A" in key for key in state["state_dict"]) and state["global_step"] == 2
