"""Study settings: the shipped YAMLs load, and a wrong key or field fails at once, naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightning_csr.shapeworld.study.selection import choose, stopped, trials_of
from lightning_csr.shapeworld.study.settings import StudySettings
from tests.paths import REPO


@pytest.mark.parametrize("name", ["shapeworld.yaml", "tiny.yaml"])
def test_shipped_study_configs_load(name: str) -> None:
    settings = StudySettings.load(REPO / "configs" / "study" / name)
    for method in settings.methods:
        for budget in ("equal", "best"):
            assert settings.comparison(budget, method, Path("w")).data_dir == "w"


def test_a_variant_without_candidates_takes_csrs_choice() -> None:
    settings = StudySettings(candidates={"csr": [{"lr": 1e-4}], "csr_code": [{"lr": 2e-4}]})
    assert settings.candidate_owner("csr_lam0") == "csr" and settings.candidate_owner("oracle") == "csr"
    assert settings.candidate_owner("csr_code") == "csr_code" and settings.candidate_owner("dpo") == "dpo"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"methods": ["dpo", "ppo"]}, "methods: unknown ['ppo']"),
        ({"equal": {"num_promts": 3}}, "equal: unknown fields ['num_promts']"),
        (
            {"candidates": {"tpo": [{"learning_rate": 1.0}]}},
            "candidates.tpo[0]: unknown fields ['learning_rate']",
        ),
        ({"candidates": {"sft": [{"lr": 1.0}]}}, "candidates: unknown method 'sft'"),
        ({"world_seeds": [1, 1]}, "world_seeds: give one or more distinct seeds"),
    ],
)
def test_wrong_settings_fail_naming_the_field(values: dict, named: str) -> None:
    with pytest.raises(ValueError, match=f"^{named}".replace("[", r"\[").replace("]", r"\]")):
        StudySettings(**values)


def test_an_unknown_yaml_key_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("world_seed: [1]\n")
    with pytest.raises(ValueError, match=f"{path}: unknown keys \\['world_seed'\\]"):
        StudySettings.load(path)


def test_choice_is_the_lowest_chair_that_keeps_recall() -> None:
    trials = [
        {"metrics": {"chair_s": 0.10, "recall": 0.50}},  # lowest CHAIR_S, recall lost
        {"metrics": {"chair_s": 0.30, "recall": 0.78}},
        {"metrics": {"chair_s": 0.25, "recall": 0.75}},
    ]
    assert choose(0.8, trials, 0.9) == 2
    assert choose(0.99, trials, 0.9) == 1  # none keeps recall: the highest recall


def test_an_iterated_method_may_stop_at_any_iteration_and_is_scored_there() -> None:
    evaluation = lambda chair: {"metrics": {"chair_s": chair, "recall": 0.8}, "scenes": [[chair]]}  # noqa: E731
    run = {
        "overrides": {"lr": 1.0},
        **evaluation(0.3),
        "iterations": [evaluation(c) for c in (0.5, 0.2, 0.3)],
    }
    trials = trials_of(run)
    assert [(t["stop"], t["metrics"]["chair_s"]) for t in trials] == [(1, 0.2), (2, 0.3)]
    assert trials_of({"overrides": {}, **evaluation(0.4)})[0]["stop"] is None
    settings = StudySettings(candidates={"csr": [{"lr": 1.0}]})
    selection = {"methods": {"csr": {**trials[choose(0.8, trials, 0.9)]}}}
    row = stopped(run, settings, selection, "oracle")  # a variant takes CSR's stop
    assert row["stop"] == 1 and row["metrics"]["chair_s"] == 0.2 and row["scenes"] == [[0.2]]
    assert row["iterations"] == run["iterations"]
