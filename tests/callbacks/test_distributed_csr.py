"""CSR under DDP (2 CPU processes, gloo) through the real CLI: the same pairs and weights as one process.

The one-process run accumulates 2 batches where the 2-process run steps on 1 batch per rank (`RankBatches` deals
each rank the batch one process would accumulate): halving and a sum of two are exact in floating point, so the
weights, and with them every iteration's pairs, must be byte-identical, not merely close.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.callbacks.kill_points import read_log
from tests.callbacks.rank_probe import read_probe
from tests.callbacks.rank_probe import writers as probe_writers
from tests.cli_runs import fit, quiet_cpu_trainer, tiny_csr_model, write_yaml
from tests.conftest import write_prompts

ITERATIONS = 2
pytestmark = pytest.mark.slow


def write_config(tmp_path: Path, run: str, llava: Path, clip: Path, kill_rank: int | None = None) -> Path:
    """A 2-iteration CSR config on the tiny models that records every write and the weights per rank.

    With `kill_rank`, that rank SIGKILLs itself before its second shard of iteration 2 (once).
    """
    prompts = tmp_path / "data" / "prompts.jsonl"
    if not prompts.exists():
        write_prompts(tmp_path / "data", n=8)
    run_dir = tmp_path / run
    callbacks = [
        {
            "class_path": "lightning_csr.callbacks.PreferenceRegenerationCallback",
            "init_args": {"prompts_file": str(prompts), "batch_size": 2},
        },
        {"class_path": "lightning_csr.callbacks.ReferenceSyncCallback"},
        {
            "class_path": "tests.callbacks.rank_probe.RankProbe",
            "init_args": {"log_dir": str(tmp_path / f"{run}.probe"), "watch": str(run_dir)},
        },
        {
            "class_path": "lightning_csr.callbacks.LatestCheckpoint",
            "init_args": {"dirpath": str(run_dir / "checkpoints")},
        },
    ]
    if kill_rank is not None:
        kill = {"point": "generation", "log_file": str(tmp_path / f"{run}.log"), "rank": kill_rank}
        callbacks.append({"class_path": "tests.callbacks.kill_points.KillSwitch", "init_args": kill})
    config = {
        "seed_everything": 0,
        "trainer": quiet_cpu_trainer(run_dir, ITERATIONS, callbacks),
        "model": tiny_csr_model(
            llava, clip, min_margin=-1.0e9
        ),  # keep every pair: an even count splits evenly
        "data": {
            "class_path": "lightning_csr.data.PreferenceDataModule",
            "init_args": {"batch_size": 2},
        },
    }
    return write_yaml(tmp_path / f"{run}.yaml", config)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_llava_dir, tiny_clip_dir) -> Path:
    """The same CSR run with one process (accumulating 2 steps) and with two DDP processes (gloo)."""
    tmp_path = tmp_path_factory.mktemp("ddp_csr")
    one = fit(
        write_config(tmp_path, "one", tiny_llava_dir, tiny_clip_dir), "--trainer.accumulate_grad_batches", "2"
    )
    assert one.returncode == 0, one.stderr[-3000:]
    two = fit(
        write_config(tmp_path, "two", tiny_llava_dir, tiny_clip_dir),
        "--trainer.devices",
        "2",
        "--trainer.strategy",
        "ddp",
    )
    assert two.returncode == 0, two.stderr[-3000:]
    return tmp_path


def test_two_processes_write_the_one_process_pairs_every_iteration(runs):
    for iteration in range(1, ITERATIONS + 1):
        pairs = f"iterations/{iteration}/pairs.jsonl"
        one, two = (runs / "one" / pairs).read_bytes(), (runs / "two" / pairs).read_bytes()
        assert one and one == two, f"iteration {iteration}: the pairs depend on the number of processes"
        assert (runs / "one" / "iterations" / str(iteration) / "stats.json").is_file()


def test_both_ranks_hold_the_one_process_weights_after_each_iteration(runs):
    one, two = read_probe(runs / "one.probe"), read_probe(runs / "two.probe")
    assert sorted(two) == [0, 1]
    digests = {
        (rank, e["epoch"]): e["digest"]
        for probe in (one, two)
        for rank, entries in probe.items()
        for e in entries
        if e["event"] == "weights"
    }
    for epoch in range(-1, ITERATIONS):  # -1: the weights training starts from
        assert digests[(1, epoch)] == digests[(0, epoch)], f"the ranks' weights differ after epoch {epoch}"
    one_weights = [e["digest"] for e in one[0] if e["event"] == "weights"]
    two_weights = [e["digest"] for e in two[0] if e["event"] == "weights"]
    assert len(set(one_weights)) == ITERATIONS + 1 and one_weights == two_weights
    steps = (
        [e["ids"] for e in two[0] if e["event"] == "batch"],
        [e["ids"] for e in two[1] if e["event"] == "batch"],
    )
    one_steps = [e["ids"] for e in one[0] if e["event"] == "batch"]
    assert one_steps[0::2] == steps[0] and one_steps[1::2] == steps[1], (
        "rank r must get the r-th batch of a step"
    )


def test_no_file_is_written_by_both_ranks(runs):
    writers = probe_writers(runs / "two.probe")
    twice = {path: ranks for path, ranks in writers.items() if len(ranks) > 1}
    assert not twice, f"written by more than one rank: {twice}"
    run_dir = str((runs / "two").resolve())
    rank_one = sorted(Path(p).relative_to(run_dir).as_posix() for p, r in writers.items() if r == {1})
    # rank 1 writes its own shards (a temp file, renamed into place) and nothing else
    finals = [p for p in rank_one if not Path(p).name.startswith(".")]
    assert finals == [f"iterations/{k}/shards/{i:05d}.json" for k in (1, 2) for i in (1, 3)], rank_one
    rank_zero = {Path(p).relative_to(run_dir).as_posix() for p, r in writers.items() if r == {0}}
    for iteration in range(1, ITERATIONS + 1):
        for name in ("pairs.jsonl", "stats.json", "producer.json", "shards/00000.json", "shards/00002.json"):
            assert f"iterations/{iteration}/{name}" in rank_zero
    assert "checkpoints/last.ckpt" in rank_zero


def test_a_two_process_run_killed_during_generation_resumes_without_redoing_a_shard(
    runs, tiny_llava_dir, tiny_clip_dir
):
    config = write_config(runs, "killed", tiny_llava_dir, tiny_clip_dir, kill_rank=1)
    ddp = ("--trainer.devices", "2", "--trainer.strategy", "ddp")
    killed = fit(config, *ddp)
    assert killed.returncode != 0, "rank 1 was to kill itself during generation"
    shards = runs / "killed" / "iterations" / "2" / "shards"
    assert sorted(p.name for p in shards.glob("0*.json")) == ["00000.json", "00001.json", "00002.json"]
    resumed = fit(config, *ddp)  # the same command
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    generated = [e for e in read_log(runs / "killed.log") if e["event"] == "generate" and e["iteration"] == 2]
    ids = [i for e in generated for i in e["ids"]]
    assert sorted(ids) == [f"q{i}" for i in range(8)], "a prompt was generated twice, or never"
    assert generated[-1]["ids"] == ["q6", "q7"] and generated[-1]["rank"] == 1  # the resume did shard 3 only
    for iteration in range(1, ITERATIONS + 1):
        pairs = f"iterations/{iteration}/pairs.jsonl"
        assert (runs / "killed" / pairs).read_bytes() == (runs / "one" / pairs).read_bytes()
