"""PPO under DDP (2 CPU processes, gloo) through the real CLI, against the same run in one process.

Rank `r` samples the `r`-th half of the one-process rollout batch, in the one-process generation chunks, each
seeded from (seed, iteration, its prompt ids): the first iteration's rollouts are the same bits. Advantages are
whitened and the KL coefficient updated over both ranks, and one minibatch of all 4 rows per iteration gives the
one-process update up to the order of floating-point sums (gradients averaged over the ranks, each rank's loss
weighted by its share of the response tokens), so the second iteration's metrics agree within `TOLERANCE`.
Both ranks end every iteration with the same weights, and no file is written by both.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from tests.callbacks.rank_probe import read_probe
from tests.callbacks.rank_probe import writers as probe_writers
from tests.cli_runs import fit as cli_fit
from tests.cli_runs import write_yaml

pytestmark = pytest.mark.slow
ITERATIONS = 2
TOLERANCE = (
    1e-5  # relative, on the second iteration's metrics (measured at most 9e-7: issue 16's closing note)
)


def fit(tmp_path: Path, run: str, llava: Path, prompts: Path, *overrides: str):
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
                    "minibatch_size": 4,
                    "max_new_tokens": 5,
                    "ppo_epochs": 1,
                    "value_head_init": "reward",
                },
                "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 5.0e-2}},
            },
        },
        "data": {
            "class_path": "lightning_csr.data.RLPromptDataModule",
            "init_args": {"train_file": str(prompts), "rollout_batch_size": 4},
        },
    }
    return cli_fit(write_yaml(tmp_path / f"{run}.yaml", config), *overrides)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_llava_dir, rl_prompts) -> Path:
    """4 prompts per iteration: all in one process, or 2 per rank on 2 ranks."""
    tmp_path = tmp_path_factory.mktemp("ddp_ppo")
    one = fit(tmp_path, "one", tiny_llava_dir, rl_prompts)
    assert one.returncode == 0, one.stderr[-3000:]
    two = fit(
        tmp_path, "two", tiny_llava_dir, rl_prompts, "--trainer.devices", "2", "--trainer.strategy", "ddp"
    )
    assert two.returncode == 0, two.stderr[-3000:]
    return tmp_path


def test_both_ranks_end_every_iteration_with_the_same_weights(runs):
    probe = read_probe(runs / "two.probe")
    weights = {(r, e["epoch"]): e["digest"] for r, es in probe.items() for e in es if e["event"] == "weights"}
    for epoch in range(-1, ITERATIONS):
        assert weights[(0, epoch)] == weights[(1, epoch)], f"the ranks' weights differ after epoch {epoch}"
    assert weights[(0, -1)] != weights[(0, ITERATIONS - 1)], "PPO did not update the weights"


def test_each_rank_samples_its_slice_into_its_own_folder_and_no_file_is_written_twice(runs):
    writers = probe_writers(runs / "two.probe")
    assert not {p: r for p, r in writers.items() if len(r) > 1}
    run_dir = (runs / "two" / "rollouts").resolve()
    for rank in (0, 1):
        chunks = {p for p, r in writers.items() if r == {rank} and p.endswith(".pt")}
        assert chunks and all(Path(p).is_relative_to(run_dir / f"rank{rank}") for p in chunks), chunks


def chunk(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def test_the_first_iteration_samples_and_scores_the_one_process_rollouts(runs):
    """Rank r's chunk is the one-process chunk r (2 prompts each): same prompts, responses and rewards."""
    one = runs / "one" / "rollouts" / "iteration_000000"
    for rank in (0, 1):
        single = chunk(one / f"chunk_{rank:03d}.pt")
        (ranked,) = (runs / "two" / "rollouts" / f"rank{rank}" / "iteration_000000").glob("chunk_*.pt")
        ranked = chunk(ranked)
        assert ranked["ids"] == single["ids"] and ranked["texts"] == single["texts"]
        for key in ("response_ids", "rm_scores", "logps", "ref_logps", "values"):
            assert torch.equal(ranked[key], single[key]), key


def test_the_two_process_metrics_are_those_of_one_process(runs):
    """The first iteration's metrics are those of the same rollouts (up to the mean of the ranks' means); the
    second iteration's, after one update each, agree within `TOLERANCE`."""
    one, two = read_probe(runs / "one.probe")[0], read_probe(runs / "two.probe")[0]
    one_metrics = [e["metrics"] for e in one if e["event"] == "weights" and e["epoch"] >= 0]
    two_metrics = [e["metrics"] for e in two if e["event"] == "weights" and e["epoch"] >= 0]
    assert [m.keys() for m in one_metrics] == [m.keys() for m in two_metrics]
    assert all(math.isfinite(v) for m in one_metrics + two_metrics for v in m.values())
    assert one_metrics[0]["objective/kl"] == pytest.approx(0.0, abs=1e-6) == two_metrics[0]["objective/kl"]
    for name in ("objective/rm_score", "objective/scores", "response/length"):
        assert one_metrics[0][name] == pytest.approx(two_metrics[0][name], rel=1e-6, abs=1e-6), name
    for name in (
        "objective/rm_score",
        "objective/kl",
        "objective/rlhf_reward",
        "response/length",
        "train/loss",
    ):
        assert one_metrics[1][name] == pytest.approx(two_metrics[1][name], rel=TOLERANCE, abs=TOLERANCE), name
