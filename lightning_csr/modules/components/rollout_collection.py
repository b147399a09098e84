"""PPO rollout collection: each iteration's responses sampled and scored chunk by chunk, finished chunks stored.

A chunk is sampled with the policy, then scored: log-probs under the policy and the reference, values under the
value adapter, the reward model's score, and the correctness of short answers. Finished chunks are saved, so a
killed run resumes without re-sampling them; they are reused only when the same settings, prompts and weights
made them (else a clear error).

Every chunk samples on a forked random stream seeded from (run seed, iteration, its prompt ids) only: a chunk's
responses do not depend on the chunks before it, nor on how many processes share the rollout batch (each rank
samples its slice of the one-process batch in the same chunks, see `PPOSettings.check_ranks`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from lightning_csr.backbones.batches import pad_id
from lightning_csr.data.provenance import backbone_settings, model_files_digest
from lightning_csr.data.records import tokenizer_fingerprint
from lightning_csr.distributed import Ranks
from lightning_csr.generation.rollout_store import RolloutStore, rollout_producer
from lightning_csr.generation.rollouts import (
    merge_rollouts,
    response_token_lists,
    sample_responses,
    sequence_inputs,
    texts,
)
from lightning_csr.modules.components.logprobs import response_logprobs, response_values, token_logprobs
from lightning_csr.modules.components.shared_adapters import REWARD, VALUE
from lightning_csr.rewards.reward_model import reward_inputs, reward_scores
from lightning_csr.rewards.shaping import batch_correctness

if TYPE_CHECKING:
    from lightning_csr.modules.ppo import PPOModule


@contextmanager
def prompt_seeded(seed: int, prompts: Sequence[Any], device: torch.device, salt: str = "") -> Iterator[None]:
    """Sampling inside seeded from (`seed`, `salt`, the prompts' ids) only, on a forked random stream (the
    caller's stream is left as it was)."""
    key = salt + "\n".join(str(prompt.id) for prompt in prompts)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed * 1_000_003 + zlib.crc32(key.encode()))
        yield


class RolloutCollector:
    """Collects the rollouts of a `PPOModule` with its models, settings and rollout directory."""

    def __init__(self, module: PPOModule) -> None:
        self.module = module

    @property
    def store(self) -> RolloutStore:
        """Where finished chunks live (`rollout_dir`, default `<trainer.default_root_dir>/rollouts`).

        On several ranks each samples its slice of the batch into its own `rank<r>` folder (resumable with the
        same number of ranks).
        """
        module, ranks = self.module, Ranks()
        root = Path(module.rollout_dir or Path(module.trainer.default_root_dir) / "rollouts")
        return RolloutStore(root / f"rank{ranks.rank}" if ranks.several else root)

    def collect(self, batch: dict[str, list], iteration: int) -> dict[str, Any]:
        """The rollout of one iteration: finished chunks from disk, missing chunks sampled, scored and saved."""
        store = self.store
        store.claim(iteration, *self.producer(batch))
        parts = []
        for chunk, (prompts, images) in enumerate(self.chunks(batch)):
            part = store.load(iteration, chunk)
            if part is None:
                with prompt_seeded(self.module.seed, prompts, self.module.device, f"iteration {iteration}\n"):
                    part = self.sample_chunk(prompts, images)
                store.save(iteration, chunk, part)
            parts.append(part)
        return merge_rollouts(parts, pad_id(self.module.backbone))

    def sample(self, batch: dict[str, list]) -> dict[str, Any]:
        """A scored rollout of a batch, sampled chunk by chunk and not stored (held-out prompts)."""
        parts = [self.sample_chunk(prompts, images) for prompts, images in self.chunks(batch)]
        return merge_rollouts(parts, pad_id(self.module.backbone))

    def chunks(self, batch: dict[str, list]) -> list[tuple[list, list]]:
        """(prompts, images) of each `generation_batch_size` chunk of a batch, in order."""
        size, prompts, images = self.module.ppo.generation_batch_size, batch["prompts"], batch["images"]
        return [(prompts[i : i + size], images[i : i + size]) for i in range(0, len(prompts), size)]

    def producer(self, batch: dict[str, list]) -> tuple[str, dict[str, Any]]:
        """Digest of what makes this batch's rollout, with the weights (every adapter, heads) as they are now."""
        module = self.module
        settings = {
            "ppo": module.ppo,
            "reference": module.reference.mode,
            "backbone": backbone_settings(module.backbone),
            "tokenizer": tokenizer_fingerprint(module.backbone.tokenizer),
            "reward_model": model_files_digest(module.reward_model_dir) or module.reward_model_dir,
            "reward_prompt": module.reward_prompt,
            "seed": module.seed,
        }
        keys = module.checkpoint_keys()
        weights = ((n, p) for n, p in module.named_parameters() if n in keys)
        return rollout_producer(settings, batch["prompts"], batch["images"], weights)

    @torch.no_grad()
    def sample_chunk(self, prompts: list, images: list) -> dict[str, Any]:
        """Sample responses for some prompts and score them: log-probs, reference, values, reward."""
        module, ppo, backbone = self.module, self.module.ppo, self.module.backbone
        texts_in = [p.prompt for p in prompts]
        rollout = sample_responses(
            module.policy, backbone, images, texts_in, ppo.max_new_tokens, ppo.temperature, ppo.top_p, True
        )
        step_logits, mask = rollout.pop("step_logits"), rollout["response_mask"]
        sampled = token_logprobs(step_logits, rollout["response_ids"].to(step_logits.device)).cpu()
        rollout["sample_logps"] = torch.where(mask.bool(), sampled, torch.zeros_like(sampled))
        rollout.update(ids=[p.id for p in prompts], prompts=texts_in, texts=texts(backbone, rollout))
        inputs, response = sequence_inputs(rollout, module.device), rollout["response_ids"]
        rollout["logps"] = response_logprobs(module.policy, inputs, response)[0].cpu()
        with module.reference.model(module.policy) as reference:
            rollout["ref_logps"] = response_logprobs(reference, inputs, response)[0].cpu()
        with module.adapters.active(VALUE) as model:
            values = response_values(model, module.value_head, inputs, response.shape[1])
            rollout["values"] = values.float().cpu()
        keys = [f"{p.id}:{module.iteration}" for p in prompts]
        facts = [p.facts for p in prompts]
        reward_batch = reward_inputs(
            backbone, images, texts_in, response_token_lists(rollout), facts, keys, module.reward_prompt
        )
        with module.adapters.active(REWARD) as model:
            reward_batch = {k: v.to(module.device) for k, v in reward_batch.items()}
            scores = reward_scores(model, module.reward_head, backbone, reward_batch)
            rollout["rm_scores"] = scores.float().cpu()
        rollout["correctness"] = batch_correctness(
            rollout["texts"], [p.answer for p in prompts], [p.kind for p in prompts]
        )
        for key in ("logps", "ref_logps", "values"):
            rollout[key] = rollout[key] * mask.float()
        return rollout
