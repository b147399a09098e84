"""`lightning-csr shapeworld study` end to end on two tiny worlds: every output in place, and a rerun resumes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from lightning_csr.cli import main
from lightning_csr.shapeworld.study.settings import BUDGETS, StudySettings
from tests.paths import REPO

TINY = REPO / "configs" / "study" / "tiny.yaml"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StudySettings, dict]:
    out = tmp_path_factory.mktemp("study")
    main(["shapeworld", "study", "--config", str(TINY), "--out_dir", str(out)])
    settings = StudySettings.load(TINY)
    return out, settings, json.loads((out / "results.json").read_text())


def test_every_world_method_and_budget_is_scored_scene_by_scene(study):
    out, settings, results = study
    assert [w["seed"] for w in results["worlds"]] == settings.world_seeds
    for world in results["worlds"]:
        assert len(world["base"]["scenes"]) == settings.eval_scenes
        assert set(world["usability"]) == {"usable", "gates"} and len(world["co_occurrence"]) == 6
        for budget in BUDGETS:
            epochs = (settings.equal if budget == "equal" else settings.best)["epochs"]
            for method in settings.methods:
                row = world[budget][method]
                assert len(row["scenes"]) == settings.eval_scenes and {"chair_s", "recall"} <= set(
                    row["metrics"]
                )
                if method.startswith("csr") or method == "oracle":
                    assert len(row["iterations"]) == epochs + 1 and len(row["pairs"]) == epochs
                    assert row["iterations"][0]["scenes"] == world["base"]["scenes"]  # iteration 0 = the base
                    assert all(len(pair) == 4 for rows in row["pairs"] for pair in rows)
        for name in ("rm_facts", "rm_plain"):
            assert set(world["fact_rlhf"][name]["wins"]) <= {0, 1} and world["fact_rlhf"][name]["wins"]
        assert len(world["fact_rlhf"]["ppo_facts"]["scenes"]) == settings.eval_scenes
    # the oracle's pairs are right by construction (or tied), never wrong
    assert all(
        pair[3] == 0 for w in results["worlds"] for rows in w["equal"]["oracle"]["pairs"] for pair in rows
    )


def test_best_settings_are_chosen_on_world_0_val_and_used_everywhere(study):
    out, settings, results = study
    chosen = results["selection"]["methods"]
    assert set(chosen) == set(settings.candidates)
    assert len(chosen["dpo"]["trials"]) == len(settings.candidates["dpo"])
    lr = chosen["dpo"]["overrides"]["lr"]
    for seed in settings.world_seeds:
        config = yaml.safe_load(
            (out / "worlds" / str(seed) / "best" / "dpo" / "dpo" / "config.yaml").read_text()
        )
        assert config["model"]["init_args"]["optimizer"]["init_args"]["lr"] == lr
    csr = chosen["csr"]  # one candidate, so one trial per iteration it could stop at
    assert [t["stop"] for t in csr["trials"]] == list(range(1, settings.best["epochs"] + 1))
    for world in results["worlds"]:
        for method in ("csr", "csr_lam0", "csr_code", "oracle"):
            row = world["best"][method]
            assert row["stop"] == csr["stop"] and row["scenes"] == row["iterations"][csr["stop"]]["scenes"]
    trial = yaml.safe_load((out / "selection" / "dpo" / "0" / "dpo" / "config.yaml").read_text())
    assert trial["data"]["init_args"]["image_root"].endswith(f"worlds/{settings.world_seeds[0]}/data")


def test_report_has_tables_curves_and_one_verdict_per_claim(study):
    out, settings, _ = study
    report = (out / "report.md").read_text()
    for section in ("## Worlds", "## Settings", "## Equal budget", "## Best budget", "## Fact-RLHF"):
        assert section in report
    verdicts = re.findall(r"^- \*\*(holds|does not hold|not separable at this N)\*\*", report, re.M)
    assert len(verdicts) == 2 * 7 + 2  # seven claims per budget, two of Fact-RLHF
    assert re.search(r"\| csr \| \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", report)
    assert all((out / f"curves_{budget}.png").stat().st_size > 0 for budget in BUDGETS)


def test_a_rerun_runs_only_the_unfinished_step(study, capsys):
    out, settings, results = study
    second = settings.world_seeds[1]
    step = out / "worlds" / str(second) / "equal" / "tpo" / "result.json"
    written = (out / "results.json").stat().st_mtime_ns

    def rerun(*extra: str) -> list[str]:
        step.unlink()
        capsys.readouterr()
        main(["shapeworld", "study", "--config", str(TINY), "--out_dir", str(out), *extra])
        lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
        return [line for line in lines if line.endswith(" s") and "skipped" not in line]

    # one process may take some worlds only (no report), another the rest; a last plain run gathers them
    ran = rerun("--worlds", str(second))
    assert len(ran) == 1 and f"world {second}: tpo (equal budget)" in ran[0]
    assert (out / "results.json").stat().st_mtime_ns == written
    ran = rerun()
    assert len(ran) == 1 and f"world {second}: tpo (equal budget)" in ran[0]
    again = json.loads((out / "results.json").read_text())
    assert again["worlds"][0] == results["worlds"][0]
