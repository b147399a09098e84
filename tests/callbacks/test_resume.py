"""A CSR run SIGKILLed during generation, training or evaluation resumes with the same command to the same weights.

Every run here is the real CLI in a subprocess (`python -m lightning_csr.cli fit --config ...`); the kill is a
real SIGKILL that the run sends itself at the chosen point (`tests/csr/kill_points.py`), once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from tests.callbacks.kill_points import read_log
from tests.cli_runs import fit, quiet_cpu_trainer, tiny_csr_model, write_yaml
from tests.conftest import write_prompts
from tests.paths import REPO

REPO = REPO
ITERATIONS = 3
pytestmark = pytest.mark.slow


def write_config(tmp_path: Path, run: str, point: str, llava: Path, clip: Path) -> Path:
    """A 3-iteration CSR config on the tiny models, with the kill switch set to `point`."""
    prompts = tmp_path / "data" / "prompts.jsonl"
    if not prompts.exists():
        write_prompts(tmp_path / "data", n=6)
    run_dir = tmp_path / run
    config = {
        "seed_everything": 0,
        "ckpt_path": "last",
        "trainer": quiet_cpu_trainer(
            run_dir,
            ITERATIONS,
            [
                {
                    "class_path": "lightning_csr.callbacks.PreferenceRegenerationCallback",
                    "init_args": {"prompts_file": str(prompts), "batch_size": 2},
                },
                {"class_path": "lightning_csr.callbacks.ReferenceSyncCallback"},
                {
                    "class_path": "tests.callbacks.kill_points.KillSwitch",
                    "init_args": {"point": point, "log_file": str(tmp_path / f"{run}.log")},
                },
                {
                    "class_path": "lightning_csr.callbacks.LatestCheckpoint",
                    "init_args": {"dirpath": str(run_dir / "checkpoints")},
                },
            ],
        ),
        "model": tiny_csr_model(llava, clip),
        "data": {"class_path": "lightning_csr.data.PreferenceDataModule", "init_args": {"batch_size": 2}},
    }
    return write_yaml(tmp_path / f"{run}.yaml", config)


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["epoch"] == ITERATIONS - 1 and not list((run_dir / "checkpoints").glob("last-v*"))
    return checkpoint["state_dict"]


def learning_rates(log: list[dict]) -> dict[tuple[int, int], float]:
    """(epoch, batch) -> lr of the run's steps (a redone step keeps its last value)."""
    return {(e["epoch"], e["batch"]): e["lr"] for e in log if e["event"] == "step"}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory, tiny_llava_dir, tiny_clip_dir):
    """An uninterrupted 3-iteration run, the reference every resumed run must equal."""
    tmp_path = tmp_path_factory.mktemp("resume")
    result = fit(write_config(tmp_path, "clean", "none", tiny_llava_dir, tiny_clip_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp_path


@pytest.mark.parametrize("point", ["generation", "training", "evaluation"])
def test_killed_run_resumes_to_the_same_weights(clean_run, tiny_llava_dir, tiny_clip_dir, point):
    tmp_path = clean_run
    config = write_config(tmp_path, point, point, tiny_llava_dir, tiny_clip_dir)
    killed = fit(config)
    assert killed.returncode == -9, f"expected SIGKILL at {point}: {killed.stderr[-2000:]}"
    resumed = fit(config)  # the same command
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    clean, run = final_weights(tmp_path / "clean"), final_weights(tmp_path / point)
    assert clean.keys() == run.keys()
    for key in clean:
        assert torch.equal(clean[key], run[key]), f"{key} differs after a kill during {point}"
    for iteration in range(1, ITERATIONS + 1):
        pairs = f"iterations/{iteration}/pairs.jsonl"
        assert (tmp_path / point / pairs).read_text() == (tmp_path / "clean" / pairs).read_text()

    log, clean_log = read_log(tmp_path / f"{point}.log"), read_log(tmp_path / "clean.log")
    generated = Counter((e["iteration"], i) for e in log if e["event"] == "generate" for i in e["ids"])
    assert generated and max(generated.values()) == 1, "a prompt was generated twice"
    expected = Counter((e["iteration"], i) for e in clean_log if e["event"] == "generate" for i in e["ids"])
    assert generated == expected
    evaluated = Counter(e["iteration"] for e in log if e["event"] == "evaluate")
    assert evaluated == Counter(range(ITERATIONS + 1))
    assert learning_rates(log) == learning_rates(clean_log)
    # every iteration starts its schedule at the peak (warm-up 0) and decays within its own pairs
    rates = learning_rates(clean_log)
    for epoch in range(ITERATIONS):
        assert rates[(epoch, 0)] == pytest.approx(5e-3)


def test_rerunning_a_finished_run_returns_at_once(clean_run, tiny_llava_dir, tiny_clip_dir):
    config = write_config(clean_run, "clean", "none", tiny_llava_dir, tiny_clip_dir)
    before = read_log(clean_run / "clean.log")
    start = time.perf_counter()
    result = fit(config)
    assert result.returncode == 0, result.stderr[-3000:]
    after = read_log(clean_run / "clean.log")[len(before) :]
    assert [e for e in after if e["event"] in ("generate", "step")] == []
    assert not (clean_run / "clean" / "iterations" / str(ITERATIONS + 1)).exists()
    assert time.perf_counter() - start < 60


def test_export_of_a_run_directory_is_the_final_policy(clean_run, tmp_path):
    from safetensors.torch import load_file

    run_dir = clean_run / "clean"
    config = run_dir / "config.yaml"
    if not config.exists():  # the CLI saves its config where the logger writes (none here): place it
        config.write_text((clean_run / "clean.yaml").read_text())
    command = [sys.executable, "-m", "lightning_csr.cli", "export", "--run", str(run_dir)]
    result = subprocess.run(
        [*command, "--out", str(tmp_path / "exported"), "--no-merge"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    adapter = load_file(tmp_path / "exported" / "adapter" / "adapter_model.safetensors")
    trained = {k: v for k, v in final_weights(run_dir).items() if ".default." in k}
    assert len(adapter) == len(trained) > 0
    for key, value in trained.items():
        name = key.removeprefix("policy.").replace(".default", "")
        assert torch.equal(adapter[name], value), name
