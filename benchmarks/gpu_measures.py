"""What `gpu_qlora.py` measures: a QLoRA DPO step (memory, time) and CSR search against plain `generate`.

On a CUDA device steps run under bf16 autocast and the memory peaks come from the CUDA allocator; on the CPU
(the tests) the same code runs in fp32 and reports no memory.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext

import torch
from PIL import Image

QUESTIONS = [
    "Describe the image in detail.",
    "What is in the picture?",
    "What shapes do you see?",
    "Describe it.",
]
CHOSEN = "The picture shows a red square next to a blue circle on a white table. "
REJECTED = "There is a green triangle above two yellow stars and a cat in a dark room. "
GB = 1024**3


def _on_cuda(model: torch.nn.Module) -> bool:
    return next(model.parameters()).device.type == "cuda"


def _sync(cuda: bool) -> None:
    if cuda:
        torch.cuda.synchronize()


def _autocast(cuda: bool):
    return torch.autocast("cuda", dtype=torch.bfloat16) if cuda else nullcontext()


def noise_images(n: int, size: tuple[int, int]) -> list[Image.Image]:
    generator = torch.Generator().manual_seed(0)
    shape = (size[1], size[0], 3)
    return [
        Image.fromarray(torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8).numpy())
        for _ in range(n)
    ]


def dpo_batch(backbone, size: tuple[int, int], tokens: int) -> dict:
    """One pair whose chosen and rejected rows are exactly `tokens` long (image tokens included)."""
    image, question = noise_images(1, size)[0], QUESTIONS[0]
    prompt = int(backbone.prompt_batch([image], [question])["attention_mask"].sum())
    length = tokens - prompt - 1  # the end-of-turn token closes the response
    if length < 1:
        raise SystemExit(f"gpu_qlora: the prompt alone has {prompt} tokens; raise --tokens")
    chosen, rejected = (backbone.response_text_ids(text * 400)[:length] for text in (CHOSEN, REJECTED))
    batch = backbone.collate(
        [image] * 2, [question] * 2, ["", ""], ids=["pair", "pair"], response_token_ids=[chosen, rejected]
    )
    assert batch["attention_mask"].sum(dim=1).tolist() == [tokens, tokens]
    backbone.check_image_tokens(batch)
    return batch | {"ids": ["pair"]}


def dpo_steps(module, batch: dict, steps: int) -> dict[str, float]:
    """Peak memory and mean time of `steps` DPO steps after one warm-up step (optimizer state allocated)."""
    cuda = _on_cuda(module.policy)
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    module.log_step = lambda *args, **kwargs: None  # no Trainer to log to
    module.policy.train()

    def step() -> float:
        with _autocast(cuda):
            loss = module.model_step(batch, "train")
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss)

    step()
    _sync(cuda)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times, losses = [], []
    for _ in range(steps):
        start = time.perf_counter()
        losses.append(step())
        _sync(cuda)
        times.append(time.perf_counter() - start)
    stats = {
        "peak_allocated_gb": torch.cuda.max_memory_allocated() / GB if cuda else float("nan"),
        "peak_reserved_gb": torch.cuda.max_memory_reserved() / GB if cuda else float("nan"),
        "step_s": sum(times) / len(times),
        "loss": losses[-1],
        "trainable_params_m": sum(p.numel() for p in params) / 1e6,
    }
    module.policy.zero_grad(set_to_none=True)
    return stats


def search_vs_generate(
    model, backbone, size: tuple[int, int], prompts: int, candidates: int, max_new_tokens: int = 96
) -> dict[str, float]:
    """CSR sentence search tokens/s and plain `generate` of the same number of tokens."""
    from lightning_csr.generation import SearchSettings, sentence_search
    from lightning_csr.generation.search import vocab_size
    from lightning_csr.generation.tokens import build_token_sets
    from lightning_csr.rewards.calibrated import RewardSettings

    cuda = _on_cuda(model)
    images = noise_images(prompts, size)
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(prompts)]
    config = SearchSettings.code(
        num_candidates=candidates, max_sentences=4, max_sentence_tokens=24, max_new_tokens=max_new_tokens
    )
    sets = build_token_sets(backbone, vocab_size(model), config.stop_strings, model)
    reward = RewardSettings.code()

    def search(n: int):
        return sentence_search(
            model, backbone, images[:n], questions[:n], config, reward=reward, token_sets=sets
        )

    with _autocast(cuda):
        search(1)  # warm-up
        _sync(cuda)
        start = time.perf_counter()
        trees = search(prompts)
        _sync(cuda)
        search_s = time.perf_counter() - start
        searched = sum(tree.summary()["generated_tokens"] for tree in trees)
        length = math.ceil(searched / (prompts * candidates))
        batch = {k: v.to(model.device) for k, v in backbone.prompt_batch(images, questions).items()}
        plain = dict(
            do_sample=True,
            num_return_sequences=candidates,
            max_new_tokens=length,
            min_new_tokens=length,
            suppress_tokens=sets.suppressed.nonzero().flatten().tolist(),
            pad_token_id=backbone.tokenizer.pad_token_id,
        )
        model.eval()
        with torch.inference_mode():
            _sync(cuda)
            start = time.perf_counter()
            model.generate(**batch, **plain)
            _sync(cuda)
            generate_s = time.perf_counter() - start
    generated = prompts * candidates * length
    return {
        "search_tokens": searched,
        "search_s": search_s,
        "search_tokens_per_s": searched / search_s,
        "generate_tokens": generated,
        "generate_s": generate_s,
        "generate_tokens_per_s": generated / generate_s,
        "search_time_vs_generate": search_s / generate_s,
    }
