"""Fact-RLHF reward model: head at the last real token, pairwise loss, factual augmentation, training."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_csr.backbones import LlavaBackbone, LoraSettings
from lightning_csr.data.rlhf import RewardPairDataModule
from lightning_csr.losses.reward_model import pairwise_reward_loss
from lightning_csr.modules.reward_model import RewardModelModule
from lightning_csr.rewards.reward_model import (
    FACTS_INTRO,
    RewardPrompt,
    last_token_values,
    reward_inputs,
    reward_scores,
)
from tests.backbones.conftest import make_images
from tests.trainer import quiet_trainer

FACTS = [f"fact number {i} about the image" for i in range(6)]


def test_head_picks_last_real_position_for_either_padding():
    hidden = torch.arange(2 * 5, dtype=torch.float32).view(2, 5, 1)
    head = torch.nn.Linear(1, 1, bias=False)
    head.weight.data.fill_(1.0)
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 1, 1]])
    assert last_token_values(hidden, right, head).tolist() == [2.0, 9.0]
    assert last_token_values(hidden, left, head).tolist() == [4.0, 9.0]


def test_reward_is_the_same_under_left_and_right_padding(tiny_llava_dir):
    module = RewardModelModule(LlavaBackbone(model_id=str(tiny_llava_dir), lora=LoraSettings(r=4, alpha=8)))
    module.configure_model()
    backbone = module.backbone
    images = make_images(2)
    responses = [backbone.response_ids("a red square"), backbone.response_ids("x")]
    args = (
        backbone,
        images,
        ["What is it?"] * 2,
        responses,
        [FACTS[:2], FACTS[:1]],
        ["a", "b"],
        RewardPrompt(),
    )
    with torch.no_grad():
        right = reward_scores(
            module.policy, module.head, backbone, reward_inputs(*args, padding_side="right")
        )
        left = reward_scores(module.policy, module.head, backbone, reward_inputs(*args, padding_side="left"))
        alone = reward_scores(
            module.policy,
            module.head,
            backbone,
            reward_inputs(*[a[1:] if isinstance(a, list) else a for a in args]),
        )
    torch.testing.assert_close(right, left, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(right[1:], alone, atol=1e-4, rtol=1e-4)


def test_pairwise_loss_on_hand_made_rewards():
    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])
    loss, metrics = pairwise_reward_loss(chosen, rejected, centering_weight=0.5)
    logistic = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(1.0))) / 2
    assert math.isclose(loss.item(), logistic + 0.5 * 1.5, rel_tol=1e-6)
    assert metrics["accuracy"].item() == 0.5


def test_augmented_prompt_holds_every_fact_once_shuffled_by_seed():
    texts = [RewardPrompt(seed=s).judge_text(FACTS, key="x") for s in range(4)]
    for text in texts:
        assert "fully supported by the combination of the following captions:" in text
        assert all(text.count(fact) == 1 for fact in FACTS)
    orders = [tuple(sorted(FACTS, key=text.index)) for text in texts]
    assert len(set(orders)) > 1 and orders[0] != tuple(FACTS)
    assert RewardPrompt(seed=0).judge_text(FACTS, key="x") == texts[0]
    plain = RewardPrompt(use_facts=False).judge_text(FACTS, key="x")
    assert FACTS_INTRO.strip() not in plain and not any(f in plain for f in FACTS)


def test_facts_can_precede_the_question_instead(tiny_llava_dir):
    prompt = RewardPrompt(facts_position="question")
    question = prompt.question_text("What is it?", FACTS, key="x")
    assert question.endswith("What is it?") and all(question.count(fact) == 1 for fact in FACTS)
    assert not any(fact in prompt.judge_text(FACTS, key="x") for fact in FACTS)
    assert RewardPrompt().question_text("What is it?", FACTS, key="x") == "What is it?"
    backbone = LlavaBackbone(model_id=str(tiny_llava_dir))
    backbone.load_model()
    response = backbone.response_ids("a red square")
    batch = reward_inputs(backbone, make_images(1), ["What is it?"], [response], [FACTS], ["x"], prompt)
    ids = batch["input_ids"][0].tolist()
    fact_ids = backbone.tokenizer(FACTS[0], add_special_tokens=False)["input_ids"]
    starts = [i for i in range(len(ids)) if ids[i : i + len(fact_ids)] == fact_ids]
    response_at = next(i for i in range(len(ids)) if ids[i : i + len(response)] == response)
    assert len(starts) == 1 and starts[0] < response_at
    with pytest.raises(ValueError, match="facts_position"):
        RewardPrompt(facts_position="end")


def test_reward_module_trains_and_exports(tiny_llava_dir, pairs_dir, tmp_path):
    torch.manual_seed(0)
    backbone = LlavaBackbone(model_id=str(tiny_llava_dir), lora=LoraSettings(r=4, alpha=8))
    module = RewardModelModule(
        backbone, export_dir=str(tmp_path / "rm"), optimizer=lambda p: torch.optim.AdamW(p, lr=1e-2)
    )
    data = RewardPairDataModule(train_file=str(pairs_dir / "pairs.jsonl"), batch_size=4)
    trainer = quiet_trainer(max_steps=2)
    module.configure_model()
    head_before = module.head.weight.detach().clone()
    trainer.fit(module, datamodule=data)
    assert not torch.equal(head_before, module.head.weight)
    assert "rewards/accuracies" in trainer.callback_metrics
    assert (tmp_path / "rm" / "adapter_config.json").is_file() and (
        tmp_path / "rm" / "reward_head.pt"
    ).is_file()


def test_exported_reward_model_scores_the_same_inside_ppo(tiny_llava_dir, tmp_path):
    from lightning_csr.modules.components.shared_adapters import REWARD
    from tests.modules.ppo_helpers import ppo_module

    torch.manual_seed(0)
    module = RewardModelModule(LlavaBackbone(model_id=str(tiny_llava_dir), lora=LoraSettings(r=4, alpha=8)))
    module.configure_model()
    with torch.no_grad():  # make the adapter non-trivial
        for name, param in module.policy.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.1)
    module.export(tmp_path / "rm")
    backbone = module.backbone
    batch = reward_inputs(
        backbone,
        make_images(2),
        ["What is it?"] * 2,
        [backbone.response_ids("a red square"), backbone.response_ids("one")],
        [FACTS, []],
        ["a", "b"],
        RewardPrompt(),
    )
    ppo = ppo_module(tiny_llava_dir, tmp_path / "rollouts", reward_model=str(tmp_path / "rm"))
    ppo.configure_model()
    # loading the frozen reward adapter must not leave the policy in eval mode (no gradient checkpointing)
    assert all(m.training for m in ppo.policy.modules())
    with torch.no_grad(), ppo.adapters.active(REWARD) as model:
        inside = reward_scores(model, ppo.reward_head, backbone, batch)
        torch.testing.assert_close(inside, module.rewards(batch), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(inside, reward_scores(ppo.policy, ppo.reward_head, backbone, batch))
