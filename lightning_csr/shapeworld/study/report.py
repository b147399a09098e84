"""The study's report: tables of means with 95 % intervals, curves, reward accuracy and a verdict per claim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lightning_csr.data.records import atomic_write_text
from lightning_csr.shapeworld.study.claims import verdict_lines
from lightning_csr.shapeworld.study.curves import plot_curves
from lightning_csr.shapeworld.study.paper_claims import budget_claims, fact_rlhf_claims
from lightning_csr.shapeworld.study.reasons import reasons
from lightning_csr.shapeworld.study.settings import BUDGETS
from lightning_csr.shapeworld.study.statistics import Interval
from lightning_csr.shapeworld.study.tables import WIN_METRICS, Estimator

METRICS = {"chair_s": "CHAIR_S", "chair_i": "CHAIR_I", "recall": "recall", "mean_words": "words"}
CSR_LIKE = ("csr", "csr_lam0", "csr_code", "oracle")


def cell(value: Interval) -> str:
    return f"{value.mean:.3f} [{value.low:.3f}, {value.high:.3f}]"


def metric_table(estimator: Estimator, budget: str, methods: list[str], with_ppo: bool) -> list[str]:
    lines = ["| method | " + " | ".join(METRICS.values()) + " |", "|---" * (len(METRICS) + 1) + "|"]
    picks = [("base", lambda w: w["base"])]
    picks += [(m, lambda w, m=m: w[budget][m]) for m in methods]
    if with_ppo:
        picks.append(("Fact-RLHF PPO (facts RM)", lambda w: w["fact_rlhf"]["ppo_facts"]))
    for name, pick in picks:
        lines.append(f"| {name} | " + " | ".join(cell(estimator.metric(pick, k)) for k in METRICS) + " |")
    return lines


def curve_intervals(
    estimator: Estimator, budget: str, methods: list[str]
) -> dict[str, dict[str, list[Interval]]]:
    curves = {}
    for method in (m for m in CSR_LIKE if m in methods):
        count = len(estimator.results["worlds"][0][budget][method]["iterations"])
        curves[method] = {
            metric: [
                estimator.metric(lambda w, k=k, m=method: w[budget][m]["iterations"][k], metric)
                for k in range(count)
            ]
            for metric in ("chair_s", "recall")
        }
    return curves


def curve_lines(curves: dict[str, dict[str, list[Interval]]]) -> list[str]:
    lines = ["| method | iteration | CHAIR_S | recall |", "|---|---|---|---|"]
    for method, series in curves.items():
        for k, (chair, recall) in enumerate(zip(series["chair_s"], series["recall"], strict=True)):
            lines.append(f"| {method} | {k} | {cell(chair)} | {cell(recall)} |")
    return lines


def pair_truth_lines(estimator: Estimator, budget: str, methods: list[str]) -> list[str]:
    lines = [
        "| method | iteration | chosen hallucinates less | more | pair right | wrong |",
        "|---|---|---|---|---|---|",
    ]
    for method in (m for m in CSR_LIKE if m in methods):
        count = len(estimator.results["worlds"][0][budget][method]["pairs"])
        for k in range(count):
            tables = [
                np.asarray(w[budget][method]["pairs"][k], dtype=float) for w in estimator.results["worlds"]
            ]
            cells = [
                cell(estimator.share(tables, c))
                for c in ("chosen_hallucinates_less", "chosen_hallucinates_more", "right", "wrong")
            ]
            lines.append(f"| {method} | {k + 1} | " + " | ".join(cells) + " |")
    return lines


def reward_model_lines(estimator: Estimator) -> list[str]:
    lines = ["| reward model | held-out pair accuracy |", "|---|---|"]
    for name in ("rm_facts", "rm_plain"):
        tables = [
            np.asarray(w["fact_rlhf"][name]["wins"], dtype=float)[:, None]
            for w in estimator.results["worlds"]
        ]
        lines.append(f"| {name} | {cell(estimator.share(tables, 'accuracy', WIN_METRICS))} |")
    return lines


def world_lines(results: dict[str, Any]) -> list[str]:
    lines = [
        "| world seed | co-occurrence priors | base recall | CLIP AUC | vision acc | usable |",
        "|---|---|---|---|---|---|",
    ]
    for world in results["worlds"]:
        priors = ", ".join(f"{a}->{b}" for a, partners in world["co_occurrence"].items() for b in partners)
        gates = [f"{g['value']:.3f}" for g in world["usability"]["gates"]]
        lines.append(
            f"| {world['seed']} | {priors} | " + " | ".join(gates) + f" | {world['usability']['usable']} |"
        )
    return lines


def selection_lines(results: dict[str, Any]) -> list[str]:
    settings, selection = results["settings"], results["selection"]
    lines = [
        f"Equal budget (every method): `{settings['equal']}`.",
        f"Best budget, starting point: `{settings['best']}`.",
    ]

    def label(trial: dict[str, Any]) -> str:
        stop = trial.get("stop")
        return f"{trial['overrides']}" + (f", stop after iteration {stop}" if stop else "")

    for method, choice in selection["methods"].items():
        trials = "; ".join(
            f"{label(t)}: CHAIR_S {t['metrics']['chair_s']:.3f}, recall {t['metrics']['recall']:.3f}"
            for t in choice["trials"]
        )
        lines.append(
            f"- {method}: chose `{label(choice)}` (val of world {settings['world_seeds'][0]}: {trials})"
        )
    lines.append(
        f"- val base: CHAIR_S {selection['base']['chair_s']:.3f}, recall {selection['base']['recall']:.3f}"
    )
    return lines


def write_report(results: dict[str, Any], out: Path) -> str:
    """Write `report.md` and `curves.png` under `out`; return the report."""
    settings = results["settings"]
    estimator = Estimator(results, settings["bootstrap_samples"])
    methods = settings["methods"]
    why = reasons(estimator, methods)
    n, scenes = len(results["worlds"]), len(results["worlds"][0]["base"]["scenes"])
    lines = [
        f"# ShapeWorld study: {n} worlds, {scenes} test scenes each",
        "",
        "Means over worlds (each world weighted equally) with 95 % bootstrap intervals (worlds, then scenes "
        f"within each world, {settings['bootstrap_samples']} draws; paired draws for differences). Settings were "
        f"chosen on the val split of world {settings['world_seeds'][0]} only.",
        "",
        "## Worlds",
        "",
        *world_lines(results),
        "",
        "## Settings",
        "",
        *selection_lines(results),
    ]
    for budget in BUDGETS:
        curves = curve_intervals(estimator, budget, methods)
        plot_curves(curves, out / f"curves_{budget}.png")
        lines += [
            "",
            f"## {budget.capitalize()} budget",
            "",
            *metric_table(estimator, budget, methods, budget == "best" and settings["fact_rlhf"]),
            "",
            f"Per iteration (`curves_{budget}.png`):",
            "",
            *curve_lines(curves),
            "",
            "Reward accuracy: how often each iteration's pairs are right by exact counts:",
            "",
            *pair_truth_lines(estimator, budget, methods),
            "",
            "Claims:",
            "",
            *verdict_lines(budget_claims(estimator, budget, methods, why[budget])),
        ]
    if settings["fact_rlhf"]:
        lines += [
            "",
            "## Fact-RLHF",
            "",
            *reward_model_lines(estimator),
            "",
            *verdict_lines(fact_rlhf_claims(estimator, why["best"])),
        ]
    report = "\n".join(lines) + "\n"
    atomic_write_text(out / "report.md", report)
    return report
