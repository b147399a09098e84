"""The likeliest reason a claim does not hold, from the study's own measurements (shown only then)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lightning_csr.shapeworld.study.settings import BUDGETS
from lightning_csr.shapeworld.study.tables import WIN_METRICS, Estimator


def _pair_share(estimator: Estimator, budget: str, method: str, column: str, k: int = 0) -> float:
    tables = [np.asarray(w[budget][method]["pairs"][k], dtype=float) for w in estimator.results["worlds"]]
    return estimator.share_mean(tables, column)


def _words(estimator: Estimator, pick: Any) -> float:
    return estimator.mean(pick, "mean_words")


def _budget_reasons(estimator: Estimator, budget: str, methods: list[str]) -> dict[str, str]:
    base_words = _words(estimator, lambda w: w["base"])
    found: dict[str, str] = {}
    if "csr" in methods:
        right, wrong = (_pair_share(estimator, budget, "csr", c) for c in ("right", "wrong"))
        words = _words(estimator, lambda w: w[budget]["csr"])
        text = (
            f"CSR's first pairs were right by exact counts in {right:.0%} and wrong in {wrong:.0%}; answers went "
            f"from {base_words:.1f} to {words:.1f} words"
        )
        if "oracle" in methods:
            oracle = estimator.mean(lambda w: w[budget]["oracle"], "chair_s")
            base = estimator.mean(lambda w: w["base"], "chair_s")
            text += (
                f"; the oracle (perfect ranking of the same search's answers) reached CHAIR_S {oracle:.3f} from "
                f"{base:.3f}, so where it gains and CSR does not, CSR's reward is what limits, and where neither "
                "gains, the search's answers and the DPO step are"
            )
        found["csr"] = text + "."
    if {"csr", "csr_lam0"} <= set(methods):
        right = [_pair_share(estimator, budget, m, "right") for m in ("csr", "csr_lam0")]
        found["lambda"] = (
            f"lambda = 0.9's pairs are right more often ({right[0]:.0%} vs {right[1]:.0%} at iteration 1), but a "
            "better-ranked pair does not make a lower CHAIR_S after DPO at this budget."
        )
    recall = lambda m: estimator.mean(lambda w: w[budget][m], "recall")  # noqa: E731
    base_recall = estimator.mean(lambda w: w["base"], "recall")
    if {"tpo", "dpo"} <= set(methods):
        words = [_words(estimator, lambda w, m=m: w[budget][m]) for m in ("tpo", "dpo")]
        found["tpo"] = (
            f"on DPO's own pairs TPO's answers grow to {words[0]:.1f} words (DPO {words[1]:.1f}, base "
            f"{base_words:.1f}) at recall {recall('tpo'):.3f} (DPO {recall('dpo'):.3f}): longer answers that name "
            "no more of the present shapes and more absent ones."
        )
    if "povid" in methods:
        found["povid"] = (
            f"POVID lowers CHAIR_S by naming less: recall {recall('povid'):.3f} against the base's "
            f"{base_recall:.3f}, answers of {_words(estimator, lambda w: w[budget]['povid']):.1f} words (base "
            f"{base_words:.1f})."
        )
    if "oracle" in methods:
        found["oracle"] = (
            f"ranking by hallucinations first prefers answers that name less: the oracle's answers shrink to "
            f"{_words(estimator, lambda w: w[budget]['oracle']):.1f} words (base {base_words:.1f}) and recall to "
            f"{recall('oracle'):.3f}; even a perfect judge of these samples trades recall for CHAIR_S, so the "
            "limit at recall >= 0.9x lies in the search's answers and the DPO step, not only in CSR's reward."
        )
    return found


def reasons(estimator: Estimator, methods: list[str]) -> dict[str, dict[str, str]]:
    """{budget: {claim key: reason}}; Fact-RLHF's under `best`."""
    found = {budget: _budget_reasons(estimator, budget, methods) for budget in BUDGETS}
    results = estimator.results
    if results["settings"]["fact_rlhf"]:
        accuracy = {
            name: estimator.share_mean(
                [np.asarray(w["fact_rlhf"][name]["wins"], dtype=float)[:, None] for w in results["worlds"]],
                "accuracy",
                WIN_METRICS,
            )
            for name in ("rm_facts", "rm_plain")
        }
        words = _words(estimator, lambda w: w["fact_rlhf"]["ppo_facts"])
        found["best"]["rm"] = (
            f"held-out accuracy {accuracy['rm_facts']:.1%} with facts, {accuracy['rm_plain']:.1%} without: the "
            "pairs are decided by which shapes are named, which a reward model reading the image learns as well."
        )
        found["best"]["ppo"] = (
            f"PPO's answers average {words:.1f} words; its reward model is right on {accuracy['rm_facts']:.0%} of "
            "held-out pairs, so part of what PPO optimises is the reward model's error."
        )
    return found
