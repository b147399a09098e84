"""Stored PPO rollouts are reused only by what made them: same settings, prompts and weights."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lightning_csr.data.provenance import STAMP_FILE, ProducerMismatchError
from lightning_csr.data.rlhf import read_rl_prompts
from lightning_csr.generation.rollout_store import RolloutStore
from tests.backbones.conftest import make_images
from tests.modules.ppo_helpers import ppo_module


def counted_module(model_dir, rollout_dir, calls: list, **kwargs):
    """A PPO module (weights seeded alike) whose sampled chunks are counted in `calls`."""
    torch.manual_seed(0)
    module = ppo_module(model_dir, rollout_dir, **kwargs)
    module.configure_model()
    sample = module.rollouts.sample_chunk

    def counting(prompts, images):
        calls.append([p.id for p in prompts])
        return sample(prompts, images)

    module.rollouts.sample_chunk = counting
    return module


def rollout_batch(rl_prompts, reverse: bool = False) -> dict[str, list]:
    prompts, images = read_rl_prompts(rl_prompts), make_images(4)
    if reverse:
        prompts, images = prompts[::-1], images[::-1]
    return {"prompts": prompts, "images": images}


def perturb_policy(module) -> None:
    with torch.no_grad():
        for name, param in module.policy.named_parameters():
            if ".default." in name and "lora_B" in name:
                param.add_(0.01)


CHANGES = {
    "temperature": lambda m: setattr(m, "ppo", dataclasses.replace(m.ppo, temperature=0.7)),
    "policy_weights": perturb_policy,
    "value_head": lambda m: torch.nn.init.constant_(m.value_head.weight, 0.5),
    "reward_prompt": lambda m: setattr(m.reward_prompt, "use_facts", False),
    "seed": lambda m: setattr(m, "seed", 1),
}


@pytest.fixture
def stored(tiny_llava_dir, rl_prompts, tmp_path):
    """Iteration 0's rollout sampled and stored (2 chunks) by the reference configuration."""
    calls: list = []
    module = counted_module(tiny_llava_dir, tmp_path / "rollouts", calls)
    rollout = module.rollouts.collect(rollout_batch(rl_prompts), 0)
    assert len(calls) == 2
    return rollout


def test_identical_configuration_reuses_stored_chunks(stored, tiny_llava_dir, rl_prompts, tmp_path):
    calls: list = []
    module = counted_module(tiny_llava_dir, tmp_path / "rollouts", calls)
    rollout = module.rollouts.collect(rollout_batch(rl_prompts), 0)
    assert calls == []  # nothing re-sampled
    assert torch.equal(rollout["response_ids"], stored["response_ids"])
    assert torch.equal(rollout["logps"], stored["logps"])


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_changed_configuration_is_refused(stored, tiny_llava_dir, rl_prompts, tmp_path, change):
    calls: list = []
    module = counted_module(tiny_llava_dir, tmp_path / "rollouts", calls)
    CHANGES[change](module)
    with pytest.raises(ProducerMismatchError) as raised:
        module.rollouts.collect(rollout_batch(rl_prompts), 0)
    message = str(raised.value)
    assert "\n" not in message
    assert str(tmp_path / "rollouts" / "iteration_000000") in message
    assert "rollout_dir" in message and "delete" in message
    assert calls == []


def test_other_prompts_or_order_are_refused(stored, tiny_llava_dir, rl_prompts, tmp_path):
    calls: list = []
    module = counted_module(tiny_llava_dir, tmp_path / "rollouts", calls)
    with pytest.raises(ProducerMismatchError, match="made by other settings or weights"):
        module.rollouts.collect(rollout_batch(rl_prompts, reverse=True), 0)
    assert calls == []


def test_changed_backbone_setting_is_refused(stored, tiny_llava_dir, rl_prompts, tmp_path):
    module = counted_module(
        tiny_llava_dir, tmp_path / "rollouts", [], backbone={"attn_implementation": "eager"}
    )
    with pytest.raises(ProducerMismatchError, match="iteration_000000"):
        module.rollouts.collect(rollout_batch(rl_prompts), 0)


def test_chunks_of_unknown_origin_are_refused(stored, tiny_llava_dir, rl_prompts, tmp_path):
    store = RolloutStore(tmp_path / "rollouts")
    (store.iteration_dir(0) / STAMP_FILE).unlink()  # e.g. written before rollouts were stamped
    module = counted_module(tiny_llava_dir, tmp_path / "rollouts", [])
    with pytest.raises(ProducerMismatchError, match="unknown origin.*rollout_dir"):
        module.rollouts.collect(rollout_batch(rl_prompts), 0)
