"""Sentence-level search: cache reuse is exact, boundaries on ids, suppression, pruning, seeded determinism."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.generation import SearchSettings, sentence_search
from lightning_csr.generation.search import vocab_size
from lightning_csr.generation.tokens import TokenSets, build_token_sets
from lightning_csr.rewards.calibrated import RewardSettings, calibrated_reward
from lightning_csr.rewards.self_reward import sentence_logprob
from tests.generation.conftest import PROMPTS, LengthScorer

SMALL = dict(max_sentence_tokens=6, max_sentences=3, max_new_tokens=14)


def _tokens(trees):
    return [[(n.depth, n.token_ids, n.finish_reason) for n in tree.nodes] for tree in trees]


def _assert_same_trees(first, second, atol=1e-5):
    assert _tokens(first) == _tokens(second)
    for a, b in zip(first, second, strict=True):
        for x, y in zip(a.nodes, b.nodes, strict=True):
            assert torch.allclose(torch.tensor(x.token_logps), torch.tensor(y.token_logps), atol=atol)


@pytest.mark.parametrize(
    "config",
    [
        SearchSettings.code(num_candidates=1, **SMALL),  # greedy
        SearchSettings.code(num_candidates=3, **SMALL),  # diverse groups
        SearchSettings.paper(num_candidates=3, seed=7, **SMALL),  # fixed-seed sampling
    ],
    ids=["greedy", "diverse", "sampled"],
)
def test_cached_search_equals_reencoding_every_step(llava, images, config) -> None:
    model, backbone = llava
    reward = RewardSettings.code()
    cached = sentence_search(model, backbone, images[:2], PROMPTS[:2], config, reward=reward)
    config.use_cache = False
    reencoded = sentence_search(model, backbone, images[:2], PROMPTS[:2], config, reward=reward)
    assert sum(t.summary()["generated_tokens"] for t in cached) > 20
    _assert_same_trees(cached, reencoded)


def test_sentence_logprob_is_the_raw_logprob_of_its_tokens(llava, images) -> None:
    model, backbone = llava
    config = SearchSettings.paper(num_candidates=2, temperature=0.7, top_p=0.9, **SMALL)
    tree = sentence_search(model, backbone, images[:1], PROMPTS[:1], config, reward=RewardSettings.code())[0]
    node = max(tree.nodes, key=lambda n: n.depth)
    batch = backbone.prompt_batch(images[:1], PROMPTS[:1])
    answer = torch.tensor([node.answer_ids()])
    input_ids = torch.cat([batch["input_ids"], answer], dim=1)
    with torch.no_grad():
        logits = model(input_ids=input_ids, pixel_values=batch["pixel_values"]).logits
    logps = logits[0, :-1].log_softmax(-1).gather(1, input_ids[0, 1:, None]).squeeze(1)
    own = logps[-node.num_tokens :]
    assert sentence_logprob(node.token_logps, "sum_logp") == pytest.approx(own.sum().item(), abs=1e-4)
    assert node.logprob == pytest.approx(own.sum().item(), abs=1e-4)


def test_default_token_sets_on_the_char_tokenizer(llava) -> None:
    model, backbone = llava
    tok = backbone.tokenizer
    sets = build_token_sets(backbone, vocab_size(model), (".", "?", "!", "\n"), model)
    assert set(sets.stop.nonzero().flatten().tolist()) == {tok.convert_tokens_to_ids(c) for c in ".?!\n"}
    assert sets.end_of_turn.nonzero().flatten().tolist() == [tok.eos_token_id]
    suppressed = set(sets.suppressed.nonzero().flatten().tolist())
    assert {backbone.image_token_id, tok.pad_token_id, tok.bos_token_id, tok.unk_token_id} <= suppressed
    assert tok.eos_token_id not in suppressed


def test_boundaries_are_decided_on_token_ids(llava, images) -> None:
    model, backbone = llava
    tok = backbone.tokenizer
    size = vocab_size(model)
    stop_ids = [tok.convert_tokens_to_ids(c) for c in "aeiou"]
    end_ids = [tok.convert_tokens_to_ids(c) for c in "xyz"]
    base = build_token_sets(backbone, size, (".",), model)
    stop, end = torch.zeros(size, dtype=torch.bool), torch.zeros(size, dtype=torch.bool)
    stop[stop_ids], end[end_ids] = True, True
    sets = TokenSets(stop=stop, end_of_turn=end, suppressed=base.suppressed)
    config = SearchSettings.paper(num_candidates=4, temperature=3.0, max_sentence_tokens=8, max_sentences=4)
    trees = sentence_search(
        model, backbone, images, PROMPTS, config, reward=RewardSettings.code(), token_sets=sets
    )
    reasons = {n.finish_reason for t in trees for n in t.nodes[1:]}
    assert {"stop", "end_of_turn"} <= reasons
    for node in (n for t in trees for n in t.nodes[1:]):
        assert not (set(node.token_ids[:-1]) & set(stop_ids + end_ids))  # nothing ends a sentence early
        last = node.token_ids[-1]
        if node.finish_reason == "stop":
            assert last in stop_ids and not node.is_final
        elif node.finish_reason == "end_of_turn":  # the end-of-turn token ends the whole answer
            assert last in end_ids and node.is_final and not node.children
            assert node.content_ids == node.token_ids[:-1]
        elif node.finish_reason == "sentence_tokens":
            assert node.num_tokens == 8 and not node.is_final
        assert node.depth <= 4 and node.answer_tokens() <= config.max_new_tokens
        if node.depth == 4:
            assert node.is_final


def test_suppressed_tokens_are_never_generated(llava, images) -> None:
    model, backbone = llava
    sets = build_token_sets(backbone, vocab_size(model), (".",), model)
    config = SearchSettings.paper(num_candidates=5, temperature=50.0, max_sentence_tokens=30, max_sentences=3)
    trees = sentence_search(model, backbone, images, PROMPTS, config, reward=RewardSettings.code())
    generated = [t for tree in trees for n in tree.nodes for t in n.token_ids]
    assert len(generated) > 300
    assert not set(generated) & set(sets.suppressed.nonzero().flatten().tolist())


def test_sampling_does_not_depend_on_batch_composition(llava, images) -> None:
    model, backbone = llava
    config = SearchSettings.paper(num_candidates=3, seed=3, **SMALL)
    keys = ["a", "b", "c"]
    together = sentence_search(
        model, backbone, images, PROMPTS, config, reward=RewardSettings.code(), keys=keys
    )
    alone = [
        sentence_search(
            model, backbone, [images[i]], [PROMPTS[i]], config, reward=RewardSettings.code(), keys=[k]
        )[0]
        for i, k in reversed(list(enumerate(keys)))
    ][::-1]
    _assert_same_trees(together, alone, atol=1e-4)
    other_seed = sentence_search(
        model,
        backbone,
        images,
        PROMPTS,
        SearchSettings.paper(num_candidates=3, seed=4, **SMALL),
        reward=RewardSettings.code(),
        keys=keys,
    )
    assert _tokens(other_seed) != _tokens(together)


def test_code_pruning_keeps_best_one_and_worst_two(llava, images) -> None:
    model, backbone = llava
    config = SearchSettings.code(max_sentence_tokens=5, max_sentences=3, max_new_tokens=40)
    tree = sentence_search(model, backbone, images[:1], PROMPTS[:1], config, reward=RewardSettings.code())[0]
    for depth in (1, 2):
        pool = [n for n in tree.nodes if n.depth == depth and not n.is_final]
        kept = [n for n in pool if not n.pruned]
        if len(pool) >= 5:
            scores = sorted(n.guide_score for n in pool)
            assert sorted(n.guide_score for n in kept) == [scores[0], scores[1], scores[-1]]
        else:
            assert kept == pool
        assert all(n.children for n in kept) and not any(n.children for n in pool if n.pruned)
        parent_count = len([n for n in tree.nodes if n.depth == depth - 1 and (depth == 1 or not n.pruned)])
        assert len([n for n in tree.nodes if n.depth == depth]) == 5 * parent_count or depth == 1


def test_calibrated_guide_scores_each_depth_in_one_batch(llava, images) -> None:
    model, backbone = llava
    scorer = LengthScorer()
    reward = RewardSettings(lam=0.9, rt_mode="sum_logp", guide="calibrated")
    config = SearchSettings.paper(num_candidates=3, **SMALL)
    trees = sentence_search(
        model, backbone, images[:2], PROMPTS[:2], config, image_scorer=scorer, reward=reward
    )
    depths = max(n.depth for t in trees for n in t.nodes)
    assert scorer.calls <= 2 * depths  # one call per prompt and depth
    for tree in trees:
        for node in tree.nodes[1:]:
            if node.has_content:
                r_text = sentence_logprob(node.token_logps, "sum_logp")
                expected = node.parent.guide_score + calibrated_reward(node.r_image, r_text, 0.9)
                assert node.guide_score == pytest.approx(expected)
