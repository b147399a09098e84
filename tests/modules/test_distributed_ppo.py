"""PPO under DDP (2 CPU processes, gloo) through the real CLI: each rank samples its own prompts into its own
rollout folder, advantages are whitened and the KL coefficient updated over both ranks, gradients averaged.

A rank samples with its own random stream, so the 2-process numbers are another draw than the one-process run's;
what must hold exactly: both ranks end every iteration with the same weights, and no file is written by both.
The one-process comparison is a statistical one on what does not depend on the draw (see the test).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.callbacks.rank_probe import read_probe
from tests.callbacks.rank_probe import writers as probe_writers
from tests.cli_runs import fit as cli_fit
from tests.cli_runs import write_yaml

pytestmark = pytest.mark.slow
ITERATIONS = 2


def fit(tmp_path: Path, run: str, llava: Path, prompts: Path, batch: int, *overrides: str):
    run_dir = tmp_path / run
    config = {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "max_epochs": ITERATIONS,
            "logger": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "enable_checkpointing": False,
            "num_sanity_val_steps": 0,
            "default_root_dir": str(run_dir),
            "callbacks": [
                {
                    "class_path": "tests.callbacks.rank_probe.RankProbe",
                    "init_args": {"log_dir": str(tmp_path / f"{run}.probe"), "watch": str(run_dir)},
                }
            ],
        },
        "model": {
            "class_path": "lightning_csr.modules.PPOModule",
            "init_args": {
                "backbone": {
                    "class_path": "lightning_csr.backbones.LlavaBackbone",
                    "init_args": {"model_id": str(llava), "lora": {"r": 4, "alpha": 8}},
                },
                "ppo": {
                    "generation_batch_size": 2,
                    "minibatch_size": 2,
                    "max_new_tokens": 5,
                    "ppo_epochs": 1,
                    "value_head_init": "reward",
                },
                "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 5.0e-2}},
            },
        },
        "data": {
            "class_path": "lightning_csr.data.RLPromptDataModule",
            "init_args": {"train_file": str(prompts), "rollout_batch_size": batch},
        },
    }
    return cli_fit(write_yaml(tmp_path / f"{run}.yaml", config), *overrides)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_llava_dir, rl_prompts) -> Path:
    """4 prompts per iteration: all in one process, or 2 per rank on 2 ranks."""
    tmp_path = tmp_path_factory.mktemp("ddp_ppo")
    one = fit(tmp_path, "one", tiny_llava_dir, rl_prompts, 4)
    assert one.returncode == 0, one.stderr[-3000:]
    two = fit(
        tmp_path, "two", tiny_llava_dir, rl_prompts, 2, "--trainer.devices", "2", "--trainer.strategy", "ddp"
    )
    assert two.returncode == 0, two.stderr[-3000:]
    return tmp_path


def test_both_ranks_end_every_iteration_with_the_same_weights(runs):
    probe = read_probe(runs / "two.probe")
    weights = {(r, e["epoch"]): e["digest"] for r, es in probe.items() for e in es if e["event"] == "weights"}
    for epoch in range(-1, ITERATIONS):
        assert weights[(0, epoch)] == weights[(1, epoch)], f"the ranks' weights differ after epoch {epoch}"
    assert weights[(0, -1)] != weights[(0, ITERATIONS - 1)], "PPO did not update the weights"


def test_each_rank_samples_its_own_prompts_into_its_own_folder_and_no_file_is_written_twice(runs):
    writers = probe_writers(runs / "two.probe")
    assert not {p: r for p, r in writers.items() if len(r) > 1}
    run_dir = (runs / "two" / "rollouts").resolve()
    for rank in (0, 1):
        chunks = {p for p, r in writers.items() if r == {rank} and p.endswith(".pt")}
        assert chunks and all(Path(p).is_relative_to(run_dir / f"rank{rank}") for p in chunks), chunks


def test_the_two_process_metrics_are_those_of_one_process(runs):
    """Same keys, all finite; the KL to the reference after the first iteration is 0 in both (the policy starts
    as the reference), and the KL coefficient both use in iteration 2 is the same within 1e-6 relative: it was
    updated from the KL of all 4 responses in both runs (0 after iteration 1)."""
    one, two = read_probe(runs / "one.probe")[0], read_probe(runs / "two.probe")[0]
    one_metrics = [e["metrics"] for e in one if e["event"] == "weights" and e["epoch"] >= 0]
    two_metrics = [e["metrics"] for e in two if e["event"] == "weights" and e["epoch"] >= 0]
    assert [m.keys() for m in one_metrics] == [m.keys() for m in two_metrics]
    assert all(math.isfinite(v) for m in one_metrics + two_metrics for v in m.values())
    assert one_metrics[0]["objective/kl"] == pytest.approx(0.0, abs=1e-6) == two_metrics[0]["objective/kl"]
    assert one_metrics[1]["objective/kl_coef"] == pytest.approx(two_metrics[1]["objective/kl_coef"], rel=1e-6)
