"""`lightning-csr shapeworld study`: every method in N independently built worlds, under two budgets.

Per world: `prepare` (scene, model and co-occurrence seeds from `world_seeds`), the base on the test split,
then each method under the equal budget and under the best settings (chosen on world 0's val split first),
then Fact-RLHF (reward model with and without facts, PPO against the facts one). Every step writes its
result when it finishes, so a killed study reruns only what was not finished. `results.json` gathers every
step; `report.md` and `curves.png` summarise it with bootstrap intervals and a verdict per claim.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lightning_csr.data.records import atomic_write_text
from lightning_csr.shapeworld.study.fact_rlhf import train_ppo, train_reward_model, write_pairs
from lightning_csr.shapeworld.study.methods import evaluate_base, train_and_score
from lightning_csr.shapeworld.study.selection import best_overrides, select, stopped
from lightning_csr.shapeworld.study.settings import BUDGETS, StudySettings
from lightning_csr.shapeworld.study.steps import Steps
from lightning_csr.shapeworld.study.worlds import build_world, world_dir


def step_count(settings: StudySettings) -> int:
    """How many steps the study has (for its progress lines)."""
    owners = {settings.candidate_owner(m) for m in settings.methods}
    selection = 1 + sum(len(settings.candidates.get(m, [])) for m in owners)
    per_world = 2 + len(BUDGETS) * len(settings.methods) + (4 if settings.fact_rlhf else 0)
    return selection + per_world * len(settings.world_seeds)


def run_world(settings: StudySettings, seed: int, selection: dict[str, Any], steps: Steps) -> dict[str, Any]:
    """The base and every preference method of one world (its prepare step already done)."""
    out = Path(settings.out_dir) / "worlds" / str(seed)
    data = world_dir(Path(settings.out_dir), seed)
    result: dict[str, Any] = {"seed": seed}
    result["base"] = steps.run(
        f"world {seed}: base",
        out / "base",
        lambda d: evaluate_base(settings.comparison("equal", "dpo", data)),
    )
    for budget in BUDGETS:
        for method in settings.methods:
            overrides = best_overrides(settings, selection, method) if budget == "best" else {}
            config = settings.comparison(budget, method, data, overrides)
            row = steps.run(
                f"world {seed}: {method} ({budget} budget)",
                out / budget / method,
                lambda d, m=method, c=config: train_and_score(m, c, d),
            )
            result.setdefault(budget, {})[method] = (
                stopped(row, settings, selection, method) if budget == "best" else row
            )
    return result


def fact_rlhf(settings: StudySettings, data: Path, out: Path, steps: Steps, seed: int) -> dict[str, Any]:
    """Reward-model pairs, the two reward models, PPO against the facts one."""
    steps.run(f"world {seed}: Fact-RLHF pairs", out / "pairs", lambda d: write_pairs(data, settings.rm_pairs))
    extra = settings.rm_arguments
    models = {
        name: steps.run(
            f"world {seed}: reward model ({name})",
            out / f"rm_{name}",
            lambda d, f=facts: train_reward_model(data, d, f, extra),
        )
        for name, facts in (("facts", True), ("plain", False))
    }
    ppo = steps.run(
        f"world {seed}: PPO (facts reward model)",
        out / "ppo_facts",
        lambda d: train_ppo(
            data, d, out / "rm_facts" / "reward_model", settings.eval_scenes, settings.ppo_arguments
        ),
    )
    return {"rm_facts": models["facts"], "rm_plain": models["plain"], "ppo_facts": ppo}


def study(settings: StudySettings, only: list[int] | None = None) -> dict[str, Any] | None:
    """Run (or finish) the study; write results.json, report.md and curves.png under `out_dir`.

    `only`: run just these worlds' steps (after every world's prepare and the selection on world 0) and write
    no report, so that several processes can share a study's worlds; a last run without it gathers them.
    """
    import torch

    from lightning_csr.shapeworld.study.report import write_report

    torch.set_num_threads(settings.threads)
    out = Path(settings.out_dir)
    steps = Steps(step_count(settings))
    worlds = {
        seed: steps.run(
            f"world {seed}: prepare",
            out / "worlds" / str(seed) / "prepare",
            lambda d, s=seed: build_world(world_dir(out, s), s, settings.scale, settings.eval_scenes),
        )
        for seed in settings.world_seeds
    }
    selection = select(settings, world_dir(out, settings.world_seeds[0]), out / "selection", steps)
    unknown = sorted(set(only or []) - set(settings.world_seeds))
    if unknown:
        raise ValueError(f"--worlds: {unknown} not in world_seeds {settings.world_seeds}")
    seeds = [seed for seed in settings.world_seeds if only is None or seed in only]
    for seed in seeds:
        worlds[seed].update(run_world(settings, seed, selection, steps))
    if settings.fact_rlhf:  # after every preference method of every world
        for seed in seeds:
            run = out / "worlds" / str(seed) / "fact_rlhf"
            worlds[seed]["fact_rlhf"] = fact_rlhf(settings, world_dir(out, seed), run, steps, seed)
    if only is not None:
        return None
    results = {"settings": settings.to_dict(), "selection": selection, "worlds": list(worlds.values())}
    atomic_write_text(out / "results.json", json.dumps(results))
    write_report(results, out)
    return results
