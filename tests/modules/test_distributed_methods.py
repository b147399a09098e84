"""TPO, POVID (its noise stage) and SFT train under DDP (2 CPU processes, gloo) with both ranks in step."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.callbacks.rank_probe import read_probe
from tests.cli_runs import fit, write_yaml
from tests.conftest import write_pairs
from tests.paths import REPO

pytestmark = pytest.mark.slow

MODULES = {
    "tpo": {"class_path": "lightning_csr.modules.TPOModule", "init_args": {}},
    "povid": {"class_path": "lightning_csr.modules.POVIDModule", "init_args": {"noise_start_epoch": 0}},
}


def fit_two_ranks(tmp_path: Path, name: str, llava: Path) -> subprocess.CompletedProcess:
    config = yaml.safe_load((REPO / "configs/dpo/tiny_cpu.yaml").read_text())
    run_dir = tmp_path / name
    probe = {
        "class_path": "tests.callbacks.rank_probe.RankProbe",
        "init_args": {"log_dir": str(tmp_path / "probe")},
    }
    config["trainer"].update(
        default_root_dir=str(run_dir), logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    config["trainer"]["callbacks"] = [probe]
    backbone = config["model"]["init_args"]["backbone"]
    backbone["init_args"]["model_id"] = str(llava)
    config["model"] = {
        "class_path": MODULES[name]["class_path"],
        "init_args": {
            **MODULES[name]["init_args"],
            "backbone": backbone,
            "optimizer": config["model"]["init_args"]["optimizer"],
        },
    }
    config["data"]["init_args"].update(data_dir=str(run_dir / "data"), batch_size=2)
    write_pairs(run_dir / "data", n=8)
    return fit(
        write_yaml(tmp_path / f"{name}.yaml", config), "--trainer.devices", "2", "--trainer.strategy", "ddp"
    )


@pytest.mark.parametrize("name", sorted(MODULES))
def test_method_trains_under_ddp_with_both_ranks_in_step(name, tmp_path, tiny_llava_dir):
    result = fit_two_ranks(tmp_path, name, tiny_llava_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    probe = read_probe(tmp_path / "probe")
    assert sorted(probe) == [0, 1]
    weights = {(r, e["epoch"]): e["digest"] for r, es in probe.items() for e in es if e["event"] == "weights"}
    assert weights[(0, -1)] == weights[(1, -1)], "the ranks started from different weights"
    assert weights[(0, 0)] == weights[(1, 0)], "the ranks drifted apart"
    assert weights[(0, 0)] != weights[(0, -1)], "nothing was trained"
