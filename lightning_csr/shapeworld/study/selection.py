"""Best settings per method, chosen on world 0's val split only and then applied unchanged to every world."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning_csr.shapeworld.study.settings import StudySettings
from lightning_csr.shapeworld.study.steps import Steps


def choose(base_recall: float, trials: list[dict[str, Any]], recall_floor: float) -> int:
    """The trial with the lowest val CHAIR_S among those keeping recall >= floor x the base's; if none
    does, the one with the highest recall."""
    keeping = [i for i, t in enumerate(trials) if t["metrics"]["recall"] >= recall_floor * base_recall]
    if keeping:
        return min(keeping, key=lambda i: (trials[i]["metrics"]["chair_s"], i))
    return max(range(len(trials)), key=lambda i: (trials[i]["metrics"]["recall"], -i))


def select(settings: StudySettings, data: Path, out: Path, steps: Steps) -> dict[str, Any]:
    """{method: {"overrides", "trials", "chosen"}} for every method with candidates (world 0, val split)."""
    from lightning_csr.shapeworld.study.methods import evaluate_base, train_and_score

    def on_val(config: Any) -> Any:
        config.eval_split, config.eval_scenes = "val", settings.selection_scenes
        return config

    base = steps.run(
        "selection: base on world 0 val",
        out / "base",
        lambda d: evaluate_base(on_val(settings.comparison("best", "dpo", data))),
    )
    chosen: dict[str, Any] = {}
    owners = {settings.candidate_owner(m) for m in settings.methods}
    for method in sorted(m for m in owners if settings.candidates.get(m)):
        trials = []
        for index, option in enumerate(settings.candidates[method]):
            config = on_val(settings.comparison("best", method, data, option))
            trial = steps.run(
                f"selection: {method} candidate {index} {option}",
                out / method / str(index),
                lambda d, m=method, c=config, o=option: {**train_and_score(m, c, d), "overrides": o},
            )
            trials += trials_of(trial)
        pick = choose(base["metrics"]["recall"], trials, settings.recall_floor)
        chosen[method] = {**trials[pick], "trials": trials, "chosen": pick}
    return {"base": base["metrics"], "methods": chosen}


def trials_of(trial: dict[str, Any]) -> list[dict[str, Any]]:
    """One trial per candidate, or, for an iterated method, one per iteration at which it could stop (the
    policy after iteration k of the same run: early stopping on val, the schedule unchanged)."""
    if len(trial.get("iterations", [])) < 2:
        return [{"overrides": trial["overrides"], "stop": None, "metrics": trial["metrics"]}]
    return [
        {"overrides": trial["overrides"], "stop": k, "metrics": evaluation["metrics"]}
        for k, evaluation in enumerate(trial["iterations"])
        if k >= 1
    ]


def best_overrides(settings: StudySettings, selection: dict[str, Any], method: str) -> dict[str, Any]:
    """The overrides `method` trains with under the best budget."""
    choice = selection["methods"].get(settings.candidate_owner(method))
    return choice["overrides"] if choice else {}


def stopped(
    row: dict[str, Any], settings: StudySettings, selection: dict[str, Any], method: str
) -> dict[str, Any]:
    """A best-budget result scored at the iteration chosen on val (its whole curve kept)."""
    choice = selection["methods"].get(settings.candidate_owner(method))
    stop = choice.get("stop") if choice else None
    if stop is None or not row.get("iterations"):
        return row
    return {**row, **row["iterations"][stop], "stop": stop}
