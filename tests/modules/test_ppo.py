"""PPOModule: KL zero at the start, one iteration in fp32 and 4-bit, adapters isolated, kill and resume."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.backbones import QuantizationSettings
from lightning_csr.data.rlhf import RLPromptDataModule, read_rl_prompts
from lightning_csr.generation.rollout_store import RolloutStore
from lightning_csr.losses.ppo import kl_penalty
from lightning_csr.modules.components.reference import Reference
from tests.backbones.conftest import make_images
from tests.modules.ppo_helpers import fit_ppo, ppo_module, snapshot
from tests.trainer import quiet_trainer


def test_kl_is_zero_when_policy_equals_reference(tiny_llava_dir, rl_prompts, tmp_path):
    module = ppo_module(tiny_llava_dir, tmp_path / "rollouts", reference="ref_adapter")
    module.configure_model()
    torch.manual_seed(0)
    prompts = read_rl_prompts(rl_prompts)[:2]
    rollout = module.rollouts.sample_chunk(prompts, make_images(2))
    mask = rollout["response_mask"].bool()
    kl = kl_penalty(rollout["logps"], rollout["ref_logps"])[mask]
    assert torch.allclose(kl, torch.zeros_like(kl), atol=1e-6)
    # sampled tokens' raw-logit log-probs agree with the scoring forward pass
    torch.testing.assert_close(rollout["sample_logps"], rollout["logps"], atol=1e-4, rtol=1e-4)


def _adapter(name: str, adapter: str) -> bool:
    return f".{adapter}." in name


@pytest.mark.parametrize("bits", [None, 4], ids=["fp32", "4bit"])
def test_one_iteration_updates_policy_and_value_only(tiny_llava_dir, rl_prompts, tmp_path, bits):
    if bits is not None:
        pytest.importorskip("bitsandbytes")
    backbone = {"quantization": QuantizationSettings(bits=bits, compute_dtype="float32")} if bits else {}
    module = ppo_module(tiny_llava_dir, tmp_path / "rollouts", reference="ref_adapter", backbone=backbone)
    module.configure_model()
    base_before = base_logits(module)
    # 4-bit weights change layout between CPU inference and checkpoints: compared through base_logits
    before = {n: v for n, v in snapshot(module).items() if not (bits and "base_layer.weight" in n)}
    trainer = fit_ppo(module, rl_prompts, tmp_path, iterations=1)
    after = {n: v for n, v in snapshot(module).items() if n in before}
    changed = {n: not torch.equal(before[n], p) for n, p in after.items()}
    policy = [n for n in after if _adapter(n, "default") and "lora_B" in n]
    value = [n for n in after if _adapter(n, "value") and "lora_B" in n] + ["value_head.weight"]
    frozen = [
        n for n in after if not any(_adapter(n, a) for a in ("default", "value")) and "value_head" not in n
    ]
    assert policy and all(changed[n] for n in policy)
    assert all(changed[n] for n in value)
    assert frozen and not [n for n in frozen if changed[n]]  # reward, ref and the (4-bit) base untouched
    for key in (
        "objective/kl",
        "objective/rm_score",
        "loss/policy_avg",
        "loss/value_avg",
        "policy/clipfrac_avg",
    ):
        assert torch.isfinite(trainer.callback_metrics[key])
    assert module.iteration == 1
    # bitsandbytes' CPU repacking around checkpoint saves moves 4-bit logits by ~2e-3; fp32 is exact
    tolerance = 5e-3 if bits else 0.0
    torch.testing.assert_close(base_logits(module), base_before, atol=tolerance, rtol=0)


@torch.no_grad()
def base_logits(module) -> torch.Tensor:
    """Logits of the shared base with every adapter off, on a fixed batch."""
    backbone = module.backbone
    batch = backbone.collate(make_images(2), ["What is it?"] * 2, ["a red square", "one"])
    module.policy.eval()  # bitsandbytes picks its CPU kernel by train/eval mode
    with Reference("adapter_off").model(module.policy) as base:
        return base(**backbone.model_inputs(batch)).logits


def test_kill_during_rollout_and_ppo_epoch_resumes_with_finished_rollouts(
    tiny_llava_dir, rl_prompts, tmp_path
):
    store = RolloutStore(tmp_path / "rollouts")
    calls = []

    class Killed(RuntimeError):
        pass

    def run(kill_chunk_at=None, kill_update_at=None, ckpt=None):
        module = ppo_module(tiny_llava_dir, tmp_path / "rollouts")
        chunk, minibatch = module.rollouts.sample_chunk, module.ppo_minibatch

        def counting_chunk(prompts, images):
            calls.append((module.iteration, [p.id for p in prompts]))
            if len(calls) == kill_chunk_at:
                raise Killed("killed during a rollout")
            return chunk(prompts, images)

        def killing_minibatch(mb, optimizer):
            if module.iteration == kill_update_at:
                raise Killed("killed during a PPO epoch")
            return minibatch(mb, optimizer)

        module.rollouts.sample_chunk, module.ppo_minibatch = counting_chunk, killing_minibatch
        try:
            fit_ppo(module, rl_prompts, tmp_path, iterations=2, ckpt_path=ckpt)
        except Killed:
            return None
        return module

    # 1) killed while sampling the second chunk of iteration 0: the first chunk is on disk
    assert run(kill_chunk_at=2) is None
    assert store.load(0, 0) is not None and store.load(0, 1) is None
    first_chunk = store.load(0, 0)["response_ids"]
    # 2) rerun: only the missing chunk is sampled; then killed during iteration 1's PPO epoch
    calls.clear()
    assert run(kill_update_at=1) is None
    assert [c[0] for c in calls] == [0, 1, 1]  # iteration 0 chunk 1, then both chunks of iteration 1
    assert torch.equal(store.load(0, 0)["response_ids"], first_chunk)
    saved = store.load(1, 1)["response_ids"]
    # 3) resume from the checkpoint after iteration 0: iteration 1's rollout is reused, nothing re-sampled
    calls.clear()
    module = run(ckpt=str(tmp_path / "checkpoints" / "last.ckpt"))
    assert module is not None and module.iteration == 2 and calls == []
    assert torch.equal(store.load(1, 1)["response_ids"], saved)


def test_validate_and_test_score_held_out_prompts_without_updating(tiny_llava_dir, rl_prompts, tmp_path):
    module = ppo_module(tiny_llava_dir, tmp_path / "rollouts")
    data = RLPromptDataModule(
        str(rl_prompts), val_file=str(rl_prompts), test_file=str(rl_prompts), rollout_batch_size=4
    )
    trainer = quiet_trainer(default_root_dir=str(tmp_path))
    validated = trainer.validate(module, datamodule=data)[0]
    before = snapshot(module.policy)
    torch.manual_seed(123)  # the evaluation seeds itself: the global stream does not matter
    tested = trainer.test(module, datamodule=data)[0]
    for key in ("rlhf_reward", "rm_score", "kl", "length", "ended"):
        assert f"val/{key}" in validated and f"test/{key}" in tested
    # same prompts: the same scores; nothing trained, nothing written to the rollout store
    assert tested["test/rlhf_reward"] == pytest.approx(validated["val/rlhf_reward"], rel=1e-5)
    assert all(torch.equal(before[n], v) for n, v in snapshot(module.policy).items())
    assert module.iteration == 0 and not (tmp_path / "rollouts").exists()


def test_evaluation_leaves_the_training_random_stream_alone(tiny_llava_dir, rl_prompts, tmp_path):
    module = ppo_module(tiny_llava_dir, tmp_path / "rollouts")
    module.configure_model()
    batch = next(iter(RLPromptDataModule(str(rl_prompts), test_file=str(rl_prompts)).test_dataloader()))
    module.log_dict = lambda *args, **kwargs: None  # no trainer to log to
    stream = torch.get_rng_state()
    module.evaluate(batch, "test")
    assert torch.equal(torch.get_rng_state(), stream)
