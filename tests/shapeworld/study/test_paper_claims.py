"""The seed papers' claims read the study's paired intervals: verdicts on synthetic worlds whose truth is set."""

from __future__ import annotations

from lightning_csr.shapeworld.study.claims import FAILS, HOLDS, UNDECIDED
from lightning_csr.shapeworld.study.paper_claims import budget_claims, fact_rlhf_claims
from lightning_csr.shapeworld.study.tables import Estimator
from tests.shapeworld.study.synthetic import evaluation, method, results


def verdicts(per_world, **kwargs) -> dict[str, str]:
    study = results(per_world, **kwargs)
    estimator = Estimator(study, samples=400)
    claims = budget_claims(estimator, "best", study["settings"]["methods"], {})
    if kwargs.get("fact_rlhf"):
        claims += fact_rlhf_claims(estimator, {})
    return {claim.text.split(" (")[0].split(":")[0]: claim.verdict() for claim in claims}


def world(csr, lam0=None, base=0.4, **others):
    entry = {"base": evaluation(base, 0.8), "csr": csr}
    if lam0 is not None:
        entry["csr_lam0"] = lam0
    return {**entry, **others}


def test_a_clear_csr_gain_in_every_world_holds():
    found = verdicts([world(method([0.4, 0.3, 0.15])) for _ in range(3)])
    assert found["CSR"] == HOLDS
    assert found["CSR reaches the paper-scale gain"] == HOLDS  # 62 % less CHAIR_S at the same recall
    assert found["each CSR iteration lowers CHAIR_S below the previous one"] == HOLDS


def test_a_gain_bought_with_recall_does_not_hold():
    found = verdicts([world(method([0.4, 0.2, 0.1], recall=0.5)) for _ in range(3)])
    assert found["CSR"] == FAILS


def test_a_small_gain_is_not_the_paper_scale_gain():
    found = verdicts([world(method([0.4, 0.35, 0.3])) for _ in range(3)])
    assert found["CSR"] == HOLDS and found["CSR reaches the paper-scale gain"] == FAILS


def test_a_gain_in_one_world_and_a_loss_in_another_is_not_separable():
    found = verdicts(
        [world(method([0.4, 0.3, 0.2])), world(method([0.4, 0.5, 0.6])), world(method([0.4, 0.4, 0.4]))]
    )
    assert found["CSR"] == UNDECIDED


def test_an_iteration_that_undoes_the_last_fails_the_iteration_claim():
    found = verdicts([world(method([0.4, 0.2, 0.3])) for _ in range(3)])
    assert found["each CSR iteration lowers CHAIR_S below the previous one"] == FAILS


def test_lambda_claim_compares_the_two_csr_runs():
    better = verdicts([world(method([0.4, 0.3, 0.2]), lam0=method([0.4, 0.35, 0.35])) for _ in range(3)])
    worse = verdicts([world(method([0.4, 0.38, 0.36]), lam0=method([0.4, 0.3, 0.2])) for _ in range(3)])
    claim = "CSR with lambda = 0.9"  # (image-calibrated) beats lambda = 0
    assert better[claim] == HOLDS and worse[claim] == FAILS


POVID = "POVID beats DPO and the base at recall >= 0.9x the base's"


def test_povid_must_beat_both_dpo_and_the_base_without_losing_recall():
    between = [
        world(method([0.4, 0.2]), dpo=evaluation(0.3, 0.8), povid=evaluation(0.35, 0.8)) for _ in range(3)
    ]
    assert verdicts(between)[POVID] == FAILS  # below the base, above DPO
    best = [world(method([0.4, 0.2]), dpo=evaluation(0.3, 0.8), povid=evaluation(0.2, 0.8)) for _ in range(3)]
    assert verdicts(best)[POVID] == HOLDS
    terse = [
        world(method([0.4, 0.2]), dpo=evaluation(0.3, 0.8), povid=evaluation(0.1, 0.5)) for _ in range(3)
    ]
    assert verdicts(terse)[POVID] == FAILS  # a lower CHAIR_S bought by naming less


def test_tpo_against_dpo_on_equal_scenes_is_not_separable():
    same = [world(method([0.4, 0.2]), dpo=evaluation(0.3, 0.8), tpo=evaluation(0.3, 0.8)) for _ in range(3)]
    assert verdicts(same)["TPO beats DPO on the same pairs"] == UNDECIDED


def test_fact_rlhf_claims_read_pair_wins_and_ppo():
    def rlhf(facts: float, plain: float, ppo: float) -> dict:
        wins = lambda share: [int(i < share * 200) for i in range(200)]  # noqa: E731
        return {
            "rm_facts": {"wins": wins(facts)},
            "rm_plain": {"wins": wins(plain)},
            "ppo_facts": evaluation(ppo, 0.8),
        }

    good = verdicts(
        [world(method([0.4, 0.2]), fact_rlhf=rlhf(0.9, 0.7, 0.3)) for _ in range(3)], fact_rlhf=True
    )
    assert good["the facts reward model beats the plain one in held-out pair accuracy"] == HOLDS
    assert good["PPO against the facts reward model lowers CHAIR_S at recall >= 0.9x the base's"] == HOLDS
    bad = verdicts(
        [world(method([0.4, 0.2]), fact_rlhf=rlhf(0.6, 0.8, 0.5)) for _ in range(3)], fact_rlhf=True
    )
    assert bad["the facts reward model beats the plain one in held-out pair accuracy"] == FAILS
    assert bad["PPO against the facts reward model lowers CHAIR_S at recall >= 0.9x the base's"] == FAILS


def test_a_base_without_hallucination_has_nothing_to_reduce():
    found = verdicts([world(method([0.0, 0.0]), base=0.0) for _ in range(3)])
    assert found["CSR"] == UNDECIDED  # a reduction of 0 exactly, not 100 %
