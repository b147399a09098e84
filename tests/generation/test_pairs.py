"""Pair curation: best vs worst complete answer, drops counted, every pair explainable from its meta."""

from __future__ import annotations

import copy

import pytest

from lightning_csr.generation import SearchSettings, curate_pairs, sentence_search
from lightning_csr.generation.tree import SearchTree
from lightning_csr.rewards.calibrated import RewardSettings
from tests.generation.conftest import PROMPTS, LengthScorer
from tests.generation.hand_tree import hand_tree
from tests.tiny_models import char_tokenizer


class TableScorer:
    """R_I from a table keyed by sentence text (and counts calls)."""

    def __init__(self, table):
        self.table, self.calls = table, 0

    def embed_images(self, images):
        import torch

        return torch.zeros(len(images), 1)

    def relevance(self, image_embedding, texts):
        import torch

        self.calls += 1
        return torch.tensor([self.table[t] for t in texts])


def test_hand_tree_pairs_in_both_modes() -> None:
    tok = char_tokenizer()
    tree, _ = hand_tree(tok)
    paper = curate_pairs(
        [tree], tok, [None], ["img.png"], ["s1"], RewardSettings(rt_mode="sum_logp"), TableScorer({})
    )
    record = paper.records[0]
    assert (record.chosen, record.rejected) == ("A blue ball. It is small.", "A red box.")
    assert record.prompt == "What is in the picture?" and record.image == "img.png"
    assert record.meta["chosen_score"] == pytest.approx(26.95 + 35.99)
    assert record.meta["margin"] == pytest.approx(26.95 + 35.99 - 17.7)
    assert record.meta["chosen_ids"][-1] == 2 and tok.decode(record.meta["chosen_ids"][:-1]) == record.chosen
    assert [s["text"] for s in record.meta["chosen_sentences"]] == ["A blue ball.", "It is small."]
    assert record.meta["chosen_sentences"][1]["r_image"] == 40.0
    assert record.meta["tree"]["nodes_per_depth"] == [3, 2] and record.meta["tree"]["complete_answers"] == 3
    assert sorted(record.meta["answer_scores"]) == pytest.approx([17.7, 31.25, 62.94])

    code = curate_pairs(
        [tree], tok, [None], ["img.png"], ["s1"], RewardSettings.code(rt_mode="sum_logp"), TableScorer({})
    )
    record = code.records[0]
    assert (record.chosen, record.rejected) == ("A blue ball. It is small.", "A blue ball. It is big.")
    assert record.meta["chosen_sentences"][0]["rank_image"] == pytest.approx(1 / 3)
    assert code.counts() == {"kept": 1, "no_complete_answer": 0, "identical": 0, "zero_margin": 0}


def test_identical_zero_margin_and_incomplete_trees_are_dropped() -> None:
    tok = char_tokenizer()
    tree, ids = hand_tree(tok)
    single = copy.deepcopy(tree)  # only one complete answer left: chosen == rejected
    for node in single.nodes:
        if node.id in (ids["B1"], ids["B2"]):
            node.finish_reason = "stop"
    tied = copy.deepcopy(tree)  # two different answers with equal scores
    for node in tied.nodes:
        if node.id == ids["A"]:
            node.finish_reason = "stop"
        if node.id == ids["B1"]:
            node.token_logps, node.r_image = list(tied.nodes[ids["B2"]].token_logps), 40.0
    empty = SearchTree(prompt="q", index=0)
    reward = RewardSettings(rt_mode="sum_logp")
    result = curate_pairs(
        [tree, single, tied, empty],
        tok,
        [None] * 4,
        ["i"] * 4,
        ["ok", "one", "tie", "none"],
        reward,
        TableScorer({}),
    )
    assert [r.id for r in result.records] == ["ok"]
    assert result.dropped == {"no_complete_answer": ["none"], "identical": ["one"], "zero_margin": ["tie"]}


def test_missing_image_scores_are_computed_in_one_batch() -> None:
    tok = char_tokenizer()
    tree, _ = hand_tree(tok)
    for node in tree.nodes:
        node.r_image = None
    scorer = TableScorer(
        {"A red box.": 1.0, "A blue ball.": 2.0, "A cat.": 3.0, "It is big.": 4.0, "It is small.": 5.0}
    )
    result = curate_pairs([tree], tok, [object()], ["i"], ["x"], RewardSettings(), scorer)
    assert scorer.calls == 1 and len(result.records) == 1
    with pytest.raises(ValueError, match="image_scorer"):
        curate_pairs([tree], tok, [None], ["i"], ["x"], RewardSettings(lam=0.9))


def test_search_then_curate_end_to_end(llava, images) -> None:
    model, backbone = llava
    config = SearchSettings.code(max_sentence_tokens=6, max_sentences=3, max_new_tokens=16)
    reward = RewardSettings.code()
    trees = sentence_search(model, backbone, images, PROMPTS, config, reward=reward, keys=["0", "1", "2"])
    result = curate_pairs(
        trees,
        backbone.tokenizer,
        images,
        ["a.png", "b.png", "c.png"],
        ["0", "1", "2"],
        reward,
        LengthScorer(),
    )
    assert sum(result.counts().values()) == 3 and result.records
    for record in result.records:
        assert record.chosen != record.rejected
        assert record.meta["chosen_score"] < record.meta["rejected_score"]  # code mode: lower is better
        assert (
            backbone.tokenizer.decode(record.meta["chosen_ids"], skip_special_tokens=True).strip()
            == record.chosen
        )
        assert record.meta["question"] in PROMPTS


def test_match_length_rejects_an_answer_of_the_same_length() -> None:
    tok = char_tokenizer()
    tree, _ = hand_tree(tok)
    curation = curate_pairs(
        [tree],
        tok,
        [None],
        ["img.png"],
        ["s1"],
        RewardSettings(rt_mode="sum_logp"),
        TableScorer({}),
        match_length=True,
    )
    record = curation.records[0]
    # the overall worst ("A red box.", one sentence) is shorter than the chosen answer: the worst two-sentence
    # answer is rejected instead
    assert (record.chosen, record.rejected) == ("A blue ball. It is small.", "A blue ball. It is big.")
