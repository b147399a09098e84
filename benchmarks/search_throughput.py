"""Throughput of the sentence-level search, in one run on the same prompts and candidate counts:

(a) our search (one prefill per prompt, KV cache reused by index) vs a naive search that re-encodes the image
    and the whole prefix through `model.generate` for every node, one prompt at a time (as the released CSR
    code does); goal >= 10x tokens/s.
(b) our search vs plain `model.generate` with a KV cache producing the same number of tokens (the same
    candidate count as sequences per prompt, fixed length); goal <= 1.5x its time.

    python benchmarks/search_throughput.py [--model-dir DIR | --tiny-random] [--prompts 4] [--candidates 5]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from lightning_csr.backbones import backbone_class
from lightning_csr.generation import SearchSettings, sentence_search
from lightning_csr.generation.search import vocab_size
from lightning_csr.generation.tokens import build_token_sets
from lightning_csr.rewards.calibrated import RewardSettings
from lightning_csr.rewards.self_reward import sentence_logprob

DEFAULT_MODEL = Path("/work/main/data/shapeworld/base_model")
QUESTIONS = [
    "Describe the image.",
    "What shapes are in the picture?",
    "Describe the image in detail.",
    "What is here?",
]


def load(model_dir: str | None, family: str, image_size: int, patch_size: int, tiny_random: bool = False):
    if model_dir is None and DEFAULT_MODEL.is_dir() and not tiny_random:
        model_dir = str(DEFAULT_MODEL)
    if model_dir is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests/
        from tests.tiny_models import tiny_llava

        directory = Path(tempfile.mkdtemp()) / "llava"
        model_dir = str(tiny_llava(directory, image_size=image_size, patch_size=patch_size))
        tokens = (image_size // patch_size) ** 2
        print(f"built a tiny random LLaVA ({tokens} image tokens)")
    backbone = backbone_class(family)(model_id=model_dir)
    return backbone.load_model().eval(), backbone, model_dir


def naive_search(model, backbone, images, prompts, config: SearchSettings, sets) -> int:
    """One prompt at a time; every node re-encodes image + prompt + prefix through `generate`. Returns tokens."""
    stop_ids = (sets.stop | sets.end_of_turn).nonzero().flatten().tolist()
    end_ids = set(sets.end_of_turn.nonzero().flatten().tolist())
    suppressed = sets.suppressed.nonzero().flatten().tolist()
    pad = backbone.tokenizer.pad_token_id
    tokens = 0
    for image, prompt in zip(images, prompts, strict=True):
        batch = backbone.prompt_batch([image], [prompt])
        frontier = [([], 0.0)]  # (answer ids, cumulative score)
        for depth in range(1, config.max_sentences + 1):
            children = []
            for prefix, score in frontier:
                budget = min(config.max_sentence_tokens, config.max_new_tokens - len(prefix))
                inputs = dict(
                    batch,
                    input_ids=torch.cat([batch["input_ids"], torch.tensor([prefix], dtype=torch.long)], 1),
                )
                inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
                with torch.inference_mode():
                    out = model.generate(
                        **inputs,
                        do_sample=True,
                        top_p=config.top_p,
                        temperature=config.temperature,
                        num_return_sequences=config.num_candidates,
                        max_new_tokens=budget,
                        eos_token_id=stop_ids,
                        suppress_tokens=suppressed,
                        pad_token_id=pad,
                        output_logits=True,
                        return_dict_in_generate=True,
                    )
                new = out.sequences[:, inputs["input_ids"].shape[1] :]
                logps = (
                    torch.stack(out.logits, 1).float().log_softmax(-1).gather(2, new[..., None]).squeeze(-1)
                )
                stops = set(stop_ids)
                for row, row_logps in zip(new.tolist(), logps, strict=True):
                    end = next((i + 1 for i, t in enumerate(row) if t in stops), len(row))
                    row = row[:end]
                    tokens += len(row)
                    final = bool(end_ids & set(row)) or len(prefix) + len(row) >= config.max_new_tokens
                    if not final and depth < config.max_sentences:
                        children.append(
                            (prefix + row, score + sentence_logprob(row_logps[: len(row)], "mean_logp"))
                        )
            children.sort(key=lambda c: -c[1])
            if (
                len(children) >= config.prune_min_pool
                and len(children) > config.keep_top + config.keep_bottom
            ):
                children = children[: config.keep_top] + children[len(children) - config.keep_bottom :]
            frontier = children
            if not frontier:
                break
    return tokens


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("--family", default="llava")
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=5)
    parser.add_argument("--max-sentences", type=int, default=4)
    parser.add_argument("--max-sentence-tokens", type=int, default=24)
    parser.add_argument("--max-new-tokens", type=int, default=80)
    parser.add_argument(
        "--image-size", type=int, default=336, help="tiny model only (336/14: LLaVA-1.5's 576)"
    )
    parser.add_argument("--patch-size", type=int, default=14, help="tiny model only")
    parser.add_argument(
        "--tiny-random",
        action="store_true",
        help="use a tiny random LLaVA with --image-size/--patch-size (default: the ShapeWorld base model)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (1 is steadier on a busy box)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, backbone, model_dir = load(
        args.model_dir, args.family, args.image_size, args.patch_size, args.tiny_random
    )
    colours = ["red", "blue", "green", "yellow", "purple", "orange", "white", "gray"]
    images = [Image.new("RGB", (64, 64), colours[i % len(colours)]) for i in range(args.prompts)]
    prompts = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.prompts)]
    config = SearchSettings.code(
        strategy="sample",
        num_candidates=args.candidates,
        max_sentences=args.max_sentences,
        max_sentence_tokens=args.max_sentence_tokens,
        max_new_tokens=args.max_new_tokens,
    )
    sets = build_token_sets(backbone, vocab_size(model), config.stop_strings, model)
    reward = RewardSettings.code()
    sentence_search(
        model, backbone, images[:1], prompts[:1], config, reward=reward, token_sets=sets
    )  # warm-up

    trees, ours_s = timed(
        lambda: sentence_search(model, backbone, images, prompts, config, reward=reward, token_sets=sets)
    )
    ours_tokens = sum(t.summary()["generated_tokens"] for t in trees)
    naive_tokens, naive_s = timed(lambda: naive_search(model, backbone, images, prompts, config, sets))

    rows = config.num_candidates
    length = math.ceil(ours_tokens / (len(prompts) * rows))
    batch = backbone.prompt_batch(images, prompts)
    plain = dict(
        do_sample=True,
        num_return_sequences=rows,
        max_new_tokens=length,
        min_new_tokens=length,
        suppress_tokens=sets.suppressed.nonzero().flatten().tolist(),
        pad_token_id=backbone.tokenizer.pad_token_id,
    )
    with torch.inference_mode():
        _, plain_s = timed(lambda: model.generate(**batch, **plain))
    plain_tokens = len(prompts) * rows * length

    ours_rate, naive_rate = ours_tokens / ours_s, naive_tokens / naive_s
    print(f"model: {model_dir}  device: {model.device}  threads: {torch.get_num_threads()}")
    print(
        f"{len(prompts)} prompts, {config.num_candidates} candidates/node, keep best {config.keep_top} + worst "
        f"{config.keep_bottom}, <= {config.max_sentences} sentences x {config.max_sentence_tokens} tokens"
    )
    print(f"ours : {ours_tokens:6d} tokens in {ours_s:7.2f} s = {ours_rate:8.1f} tokens/s")
    print(
        f"naive: {naive_tokens:6d} tokens in {naive_s:7.2f} s = {naive_rate:8.1f} tokens/s  (generate per node)"
    )
    print(
        f"plain: {plain_tokens:6d} tokens in {plain_s:7.2f} s  (generate, KV cache, {rows} sequences/prompt)"
    )
    print(f"(a) speed-up over naive search : {ours_rate / naive_rate:6.1f}x tokens/s   (goal >= 10x)")
    ratio = ours_s / (plain_s * ours_tokens / plain_tokens)
    print(f"(b) time vs plain generate     : {ratio:6.2f}x (same tokens)   (goal <= 1.5x)")


if __name__ == "__main__":
    main()
