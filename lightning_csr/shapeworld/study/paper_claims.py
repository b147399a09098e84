"""The seed papers' claims as conditions on a study's intervals, under one budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lightning_csr.shapeworld.study.claims import Claim, Condition
from lightning_csr.shapeworld.study.tables import WIN_METRICS, Estimator


def _reduction(values: list[dict]) -> Any:
    """1 - CHAIR_S / the base's (0 where the base has nothing to reduce)."""
    base = np.asarray(values[0]["chair_s"], dtype=float)
    return np.where(base > 0, 1 - np.asarray(values[1]["chair_s"]) / np.maximum(base, 1e-9), 0.0)


def _recall_ratio(values: list[dict]) -> Any:
    return values[1]["recall"] / np.maximum(values[0]["recall"], 1e-9)


def _chair_difference(values: list[dict]) -> Any:
    return values[0]["chair_s"] - values[1]["chair_s"]


def _base(world: dict[str, Any]) -> dict[str, Any]:
    return world["base"]


def _method(budget: str, method: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda world: world[budget][method]


def _pick(budget: str, name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return _base if name == "base" else _method(budget, name)


# "first beats second" claims: (text, reason key, [(first, second), ...], method that must also keep recall
# >= 0.9x the base's or None), each contest a lower CHAIR_S
BEATS = (
    ("CSR with lambda = 0.9 (image-calibrated) beats lambda = 0", "lambda", [("csr", "csr_lam0")], None),
    ("TPO beats DPO on the same pairs", "tpo", [("tpo", "dpo")], None),
    # a lower CHAIR_S bought by naming less is no win (the released-code scoring's collapse)
    (
        "POVID beats DPO and the base at recall >= 0.9x the base's",
        "povid",
        [("povid", "dpo"), ("povid", "base")],
        "povid",
    ),
)


def _iteration(budget: str, method: str, k: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda world: world[budget][method]["iterations"][k]


def gain_conditions(
    estimator: Estimator, pick: Callable, label: str, goal: float = 0.0
) -> tuple[Condition, ...]:
    """Relative CHAIR_S reduction vs the base above `goal`, recall above 0.9x the base's."""
    return (
        Condition(f"{label}: CHAIR_S reduction vs base", estimator.combined([_base, pick], _reduction), goal),
        Condition(f"{label}: recall / base recall", estimator.combined([_base, pick], _recall_ratio), 0.9),
    )


def lower_chair(estimator: Estimator, first: Callable, second: Callable, label: str) -> Condition:
    """CHAIR_S of `first` minus that of `second` below zero."""
    return Condition(label, estimator.combined([first, second], _chair_difference), 0.0, above=False)


def budget_claims(
    estimator: Estimator, budget: str, methods: list[str], reasons: dict[str, str]
) -> list[Claim]:
    """Every claim whose methods the study ran under `budget`."""
    claims = []
    if "csr" in methods:
        csr = _method(budget, "csr")
        row = estimator.results["worlds"][0][budget]["csr"]
        iterations = len(row["iterations"]) - 1
        stop = row.get("stop") or iterations  # the iteration the best budget stops at (chosen on val)
        claims += [
            Claim(
                f"CSR ({stop} of {iterations} iterations) lowers CHAIR_S with recall >= 0.9x the base's",
                gain_conditions(estimator, csr, "CSR"),
                reasons.get("csr", ""),
            ),
            Claim(
                "CSR reaches the paper-scale gain: CHAIR_S down >= 50 % at recall >= 0.9x",
                gain_conditions(estimator, csr, "CSR", 0.5),
                reasons.get("csr", ""),
            ),
            Claim(
                "each CSR iteration lowers CHAIR_S below the previous one",
                tuple(
                    lower_chair(
                        estimator,
                        _iteration(budget, "csr", k),
                        _iteration(budget, "csr", k - 1),
                        f"CHAIR_S iteration {k} - iteration {k - 1}",
                    )
                    for k in range(1, iterations + 1)
                ),
                reasons.get("csr", ""),
            ),
        ]
    for text, key, contests, keeps_recall in BEATS:
        needed = {name for contest in contests for name in contest if name != "base"}
        if needed <= set(methods):
            conditions = tuple(
                lower_chair(
                    estimator, _pick(budget, first), _pick(budget, second), f"CHAIR_S {first} - {second}"
                )
                for first, second in contests
            )
            if keeps_recall:
                conditions += gain_conditions(estimator, _pick(budget, keeps_recall), keeps_recall.upper())[
                    1:
                ]
            claims.append(Claim(text, conditions, reasons.get(key, "")))
    if "oracle" in methods:
        claims.append(
            Claim(
                "testbed check: the exact-reward oracle lowers CHAIR_S at recall >= 0.9x",
                gain_conditions(estimator, _method(budget, "oracle"), "oracle"),
                reasons.get("oracle", ""),
            )
        )
    return claims


def fact_rlhf_claims(estimator: Estimator, reasons: dict[str, str]) -> list[Claim]:
    """The reward model with facts beats the plain one on held-out pairs; PPO with it lowers CHAIR_S."""
    worlds = estimator.results["worlds"]
    wins = [
        [np.asarray(w["fact_rlhf"][name]["wins"], dtype=float)[:, None] for w in worlds]
        for name in ("rm_facts", "rm_plain")
    ]
    difference = estimator.rows(wins, lambda v: v[0]["accuracy"] - v[1]["accuracy"], WIN_METRICS)
    ppo = lambda world: world["fact_rlhf"]["ppo_facts"]  # noqa: E731
    return [
        Claim(
            "the facts reward model beats the plain one in held-out pair accuracy",
            (Condition("pair accuracy facts - plain", difference, 0.0),),
            reasons.get("rm", ""),
        ),
        Claim(
            "PPO against the facts reward model lowers CHAIR_S at recall >= 0.9x the base's",
            gain_conditions(estimator, ppo, "PPO"),
            reasons.get("ppo", ""),
        ),
    ]
