"""Sentence-level tree search (CSR step 1), batched over prompts and candidates, with KV-cache reuse.

Per depth, every kept node of every prompt gets `num_candidates` children; all child rows decode token by
token in lock-step until each has ended its sentence (stop token, end-of-turn, or a cap). The unfinished
children of a prompt are then pooled, scored by the guide (cumulative R_T, or cumulative calibrated reward)
and pruned to the best `keep_top` + worst `keep_bottom`; the kept rows' caches carry over to their children.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
from PIL import Image

from lightning_csr.generation.candidates import diverse_group_tokens, prompt_seed, sample_tokens
from lightning_csr.generation.decoding import CachedRows, ReencodedRows
from lightning_csr.generation.settings import SearchSettings
from lightning_csr.generation.tokens import TokenSets, build_token_sets
from lightning_csr.generation.tree import SearchTree, SentenceNode
from lightning_csr.rewards.calibrated import RewardSettings, calibrated_reward
from lightning_csr.rewards.self_reward import sentence_logprob


class ImageScorer(Protocol):
    """What the search needs from an image-relevance model (e.g. `ClipRelevance`)."""

    def embed_images(self, images: Sequence[Image.Image]) -> torch.Tensor: ...

    def relevance(self, image_embedding: torch.Tensor, texts: Sequence[str]) -> torch.Tensor: ...


def vocab_size(model) -> int:
    return int(model.get_output_embeddings().weight.shape[0])


def sentence_text(tokenizer, node: SentenceNode) -> str:
    """A sentence's text, decoded from its token ids (special tokens skipped)."""
    return tokenizer.decode(node.content_ids, skip_special_tokens=True).strip()


def sentence_search(
    model,
    backbone,
    images: Sequence[Image.Image],
    prompts: Sequence[str],
    config: SearchSettings,
    image_scorer: ImageScorer | None = None,
    reward: RewardSettings | None = None,
    keys: Sequence[object] | None = None,
    token_sets: TokenSets | None = None,
) -> list[SearchTree]:
    """Grow one sentence tree per (image, raw user question); `keys` (e.g. sample ids) seed each prompt."""
    reward = reward or RewardSettings()
    if len(images) != len(prompts):
        raise ValueError(f"{len(images)} images for {len(prompts)} prompts")
    if reward.guide == "calibrated" and image_scorer is None:
        raise ValueError("guide='calibrated' needs an image_scorer (e.g. ClipRelevance)")
    keys = list(prompts) if keys is None else list(keys)
    sets = token_sets or build_token_sets(backbone, vocab_size(model), config.stop_strings, model)
    device = model.device
    sets = TokenSets(*(mask.to(device) for mask in (sets.stop, sets.end_of_turn, sets.suppressed)))
    batch = backbone.prompt_batch(images, prompts)
    response_values = getattr(backbone, "token_level_inputs", {})
    was_training = model.training
    model.eval()
    try:
        rows = (CachedRows if config.use_cache else ReencodedRows)(model, batch, response_values)
        trees = [SearchTree(prompt=p, index=i) for i, p in enumerate(prompts)]
        generators = [torch.Generator(device=device).manual_seed(prompt_seed(config.seed, k)) for k in keys]
        embeddings = image_scorer.embed_images(images) if reward.guide == "calibrated" else None
        frontier = [tree.root for tree in trees]
        prompt_of = [i for i in range(len(trees))]
        while frontier:
            k = config.num_candidates
            rows.select(torch.arange(len(frontier)).repeat_interleave(k))
            children = [
                trees[prompt_of[j]].add_child(node) for j, node in enumerate(frontier) for _ in range(k)
            ]
            child_prompt = torch.tensor(prompt_of, device=device).repeat_interleave(k)
            _decode_sentences(rows, children, child_prompt, sets, config, generators, backbone)
            _guide_scores(children, child_prompt.tolist(), reward, backbone, image_scorer, embeddings)
            kept = _prune(children, child_prompt.tolist(), config)
            rows.select(torch.tensor(kept, dtype=torch.long))
            frontier = [children[i] for i in kept]
            prompt_of = [int(child_prompt[i]) for i in kept]
    finally:
        model.train(was_training)
    return trees


def _decode_sentences(rows, children, row_prompt, sets: TokenSets, config, generators, backbone) -> None:
    """Decode one sentence per row, in lock-step, recording raw log-probs."""
    device = rows.device
    n = len(children)
    fill = backbone.tokenizer.pad_token_id or 0
    active = torch.ones(n, dtype=torch.bool, device=device)
    length = torch.zeros(n, dtype=torch.long, device=device)
    before = torch.tensor([c.parent.answer_tokens() for c in children], device=device)
    at_max_depth = torch.tensor([c.depth >= config.max_sentences for c in children], device=device)
    while bool(active.any()):
        logits = rows.next_logits
        raw_logps = logits.float().log_softmax(dim=-1)
        processed = logits.masked_fill(sets.suppressed, float("-inf"))
        if config.strategy == "sample":
            tokens = sample_tokens(
                processed, active, row_prompt, generators, config.temperature, config.top_p, fill
            )
        else:
            tokens = diverse_group_tokens(
                processed, active, config.num_candidates, config.diversity_penalty, fill
            )
        token_logps = raw_logps.gather(1, tokens[:, None]).squeeze(1)
        length += active.long()
        end_turn = active & sets.end_of_turn[tokens]
        total_cap = active & ~end_turn & (before + length >= config.max_new_tokens)
        sentence_end = (
            active & ~end_turn & ~total_cap & (sets.stop[tokens] | (length >= config.max_sentence_tokens))
        )
        depth_cap = sentence_end & at_max_depth
        finals = end_turn | total_cap | depth_cap
        _record(
            children,
            active,
            tokens,
            token_logps,
            [end_turn, total_cap, depth_cap, sentence_end, sets.stop[tokens]],
        )
        advance = active & ~finals  # finished answers never need their next-token logits
        active = active & ~(finals | sentence_end)
        if bool(advance.any()):
            rows.step(tokens, advance)


def _record(children, active, tokens, token_logps, flags) -> None:
    """Append each active row's token and raw log-prob to its sentence; set why a sentence ended."""
    active_rows = active.nonzero().flatten().tolist()
    tokens, token_logps = tokens.tolist(), token_logps.tolist()
    end_turn, total_cap, depth_cap, sentence_end, is_stop = torch.stack(flags).tolist()
    for i in active_rows:
        node = children[i]
        node.token_ids.append(tokens[i])
        node.token_logps.append(token_logps[i])
        if end_turn[i]:
            node.finish_reason = "end_of_turn"
            continue
        node.content_ids.append(tokens[i])
        if total_cap[i]:
            node.finish_reason = "max_new_tokens"
        elif depth_cap[i]:
            node.finish_reason = "max_sentences"
        elif sentence_end[i]:
            node.finish_reason = "stop" if is_stop[i] else "sentence_tokens"


def _guide_scores(children, row_prompt, reward: RewardSettings, backbone, image_scorer, embeddings) -> None:
    """Cumulative score each child is pruned on (higher is better)."""
    if reward.guide == "calibrated":
        by_prompt: dict[int, list[SentenceNode]] = {}
        for node, p in zip(children, row_prompt, strict=True):
            if node.has_content:
                by_prompt.setdefault(p, []).append(node)
        for p, nodes in by_prompt.items():
            texts = [sentence_text(backbone.tokenizer, node) for node in nodes]
            for node, value in zip(nodes, image_scorer.relevance(embeddings[p], texts).tolist(), strict=True):
                node.r_image = float(value)
    for node in children:
        score = sentence_logprob(node.token_logps, reward.rt_mode) if node.has_content else 0.0
        if reward.guide == "calibrated" and node.has_content:
            score = calibrated_reward(node.r_image, score, reward.lam)
        node.guide_score = node.parent.guide_score + score


def _prune(children, row_prompt, config: SearchSettings) -> list[int]:
    """Indices of the children kept for the next depth: best `keep_top` + worst `keep_bottom` per prompt."""
    kept: list[int] = []
    for p in dict.fromkeys(row_prompt):
        pool = [i for i, q in enumerate(row_prompt) if q == p and not children[i].is_final]
        if len(pool) >= config.prune_min_pool and len(pool) > config.keep_top + config.keep_bottom:
            ranked = sorted(pool, key=lambda i: -children[i].guide_score)
            keep = set(ranked[: config.keep_top]) | set(ranked[len(ranked) - config.keep_bottom :])
            for i in pool:
                children[i].pruned = i not in keep
            pool = [i for i in pool if i in keep]
        kept.extend(pool)
    return kept
