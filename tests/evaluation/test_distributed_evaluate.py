"""`lightning-csr evaluate` under torchrun: each rank answers its share, rank 0 alone writes, the numbers are
those of one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.evaluation.test_runner import write_tiny_shapeworld
from tests.paths import REPO

TORCHRUN = Path(sys.executable).with_name("torchrun")


def run(tiny_llava_dir: Path, data: Path, out: Path, processes: int) -> dict:
    args = ["evaluate", "--model", str(tiny_llava_dir), "--benchmark", "shapeworld", "--data", str(data)]
    args += ["--out", str(out), "--batch-size", "2", "--max-new-tokens", "3", "--answer-tokens", "2"]
    launcher = [str(TORCHRUN), "--standalone", f"--nproc_per_node={processes}", "-m", "lightning_csr.cli"]
    command = launcher if processes > 1 else [sys.executable, "-m", "lightning_csr.cli"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([*command, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


def test_two_ranks_answer_disjoint_shares_and_report_the_one_process_numbers(tiny_llava_dir, tmp_path):
    data = write_tiny_shapeworld(tmp_path / "sw", n=4)
    one = run(tiny_llava_dir, data, tmp_path / "one", 1)
    two = run(tiny_llava_dir, data, tmp_path / "two", 2)
    assert two["metrics"] == one["metrics"]
    assert two["generation"] == one["generation"]
    shares = [
        {
            json.loads(line)["id"]
            for line in (tmp_path / "two" / f"answers.rank{r}.jsonl").read_text().splitlines()
        }
        for r in (0, 1)
    ]
    assert all(shares) and not shares[0] & shares[1]
    assert len(shares[0] | shares[1]) == one["generation"]["generated"]
    assert not (tmp_path / "two" / "answers.jsonl").exists()
