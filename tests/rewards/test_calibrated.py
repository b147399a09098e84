"""Paper- and code-mode scores on a hand-built tree, against hand computation."""

import pytest

from lightning_csr.rewards.calibrated import (
    RewardSettings,
    calibrated_reward,
    path_score,
    score_sentences,
    sibling_ranks,
)
from tests.generation.hand_tree import SENTENCES, hand_tree
from tests.tiny_models import char_tokenizer


def _paths(tree, ids, config):
    scores = score_sentences(tree.nodes, {ids[k]: v[3] for k, v in SENTENCES.items()}, config)
    paths = {"A": ["A"], "B1": ["B", "B1"], "B2": ["B", "B2"]}
    return scores, {k: path_score([scores[ids[n]] for n in p], config) for k, p in paths.items()}


def test_calibrated_reward_and_sibling_ranks() -> None:
    assert calibrated_reward(20.0, -3.0, 0.9) == pytest.approx(17.7)
    assert calibrated_reward(20.0, -3.0, 0.0) == -3.0
    assert sibling_ranks([-3.0, -0.5, -4.0]) == pytest.approx([2 / 3, 1 / 3, 1.0])
    assert sibling_ranks([1.0, 1.0]) == [0.5, 1.0]  # ties broken by order, like the released code


def test_paper_mode_sums_calibrated_rewards() -> None:
    tree, ids = hand_tree(char_tokenizer())
    config = RewardSettings(mode="paper", lam=0.9, rt_mode="sum_logp")
    scores, paths = _paths(tree, ids, config)
    assert scores[ids["B2"]].reward == pytest.approx(0.9 * 40 + 0.1 * -0.1)
    assert paths["A"] == pytest.approx(17.7)
    assert paths["B1"] == pytest.approx(26.95 + 4.3)
    assert paths["B2"] == pytest.approx(26.95 + 35.99)
    assert config.higher_is_better


def test_paper_mode_prod_uses_probabilities() -> None:
    tree, ids = hand_tree(char_tokenizer())
    scores, _ = _paths(tree, ids, RewardSettings(mode="paper", lam=0.5, rt_mode="prod"))
    assert scores[ids["A"]].r_text == pytest.approx(2.718281828**-3)
    assert scores[ids["A"]].reward == pytest.approx(0.5 * 20 + 0.5 * 2.718281828**-3)


def test_code_mode_averages_sibling_ranks_over_k_plus_one() -> None:
    tree, ids = hand_tree(char_tokenizer())
    config = RewardSettings.code(rt_mode="sum_logp")
    scores, paths = _paths(tree, ids, config)
    assert (scores[ids["C"]].rank_text, scores[ids["C"]].rank_image) == (1.0, 1.0)  # pruned siblings count
    assert (scores[ids["B"]].rank_text, scores[ids["B"]].rank_image) == pytest.approx((1 / 3, 1 / 3))
    assert paths["A"] == pytest.approx((0.9 * 2 / 3 + 0.1 * 2 / 3) / 2)
    assert paths["B1"] == pytest.approx((1 / 3 + 1.0) / 3)
    assert paths["B2"] == pytest.approx((1 / 3 + 0.5) / 3)
    assert not config.higher_is_better


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="mode"):
        RewardSettings(mode="both")
    with pytest.raises(ValueError, match="lam"):
        RewardSettings(lam=1.5)


def test_paper_mode_mean_aggregate_is_length_neutral() -> None:
    from lightning_csr.rewards.calibrated import RewardSettings, SentenceScore, path_score

    short = [SentenceScore(r_text=0.5, r_image=20.0, reward=10.0)]
    long = short * 3
    assert path_score(long, RewardSettings(aggregate="sum")) == 30.0
    assert path_score(long, RewardSettings(aggregate="mean")) == path_score(
        short, RewardSettings(aggregate="mean")
    )


def test_tree_mean_baseline_centres_image_relevance() -> None:
    from types import SimpleNamespace

    from lightning_csr.rewards.calibrated import RewardSettings, score_sentences

    root = SimpleNamespace(id=0, parent=None, has_content=False, token_logps=[])
    nodes = [root] + [
        SimpleNamespace(id=i, parent=root, has_content=True, token_logps=[-1.0]) for i in (1, 2, 3)
    ]
    r_image = {1: 10.0, 2: 20.0, 3: 30.0}
    scores = score_sentences(nodes, r_image, RewardSettings(lam=1.0, image_baseline="tree_mean"))
    assert [scores[i].r_image for i in (1, 2, 3)] == [-10.0, 0.0, 10.0]
    assert [scores[i].reward for i in (1, 2, 3)] == [-10.0, 0.0, 10.0]
