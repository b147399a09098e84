"""`PPOModule`: Fact-RLHF PPO with policy, reference, reward and value as adapters over one shared base.

Manual optimisation; one `training_step` = one PPO iteration: sample and score a rollout batch (saved to disk
chunk by chunk, so a killed run resumes without re-sampling finished chunks), shape per-token rewards with
the KL penalty, GAE, whiten advantages, then `ppo_epochs` passes of clipped policy and value updates.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import OptimizerCallable

from lightning_csr.backbones.base import Backbone
from lightning_csr.backbones.policy import build_policy
from lightning_csr.data.provenance import backbone_settings, model_files_digest
from lightning_csr.data.records import tokenizer_fingerprint
from lightning_csr.generation.rollouts import (
    RolloutStore,
    merge_rollouts,
    response_token_lists,
    rollout_producer,
    sample_responses,
    select_rows,
    texts,
)
from lightning_csr.losses.ppo import masked_mean, ppo_policy_loss, ppo_value_loss
from lightning_csr.modules.base import default_optimizer
from lightning_csr.modules.components.advantages import iteration_logs, rollout_advantages
from lightning_csr.modules.components.ppo_settings import PPOSettings
from lightning_csr.modules.components.response_scoring import response_logps, response_values, sequence_inputs
from lightning_csr.modules.components.schedules import Constant, SchedulerCallable
from lightning_csr.modules.components.shared_adapters import REF, REWARD, VALUE, SharedAdapters
from lightning_csr.rewards.reward_model import (
    RewardPrompt,
    hidden_size,
    load_reward_model,
    reward_inputs,
    reward_scores,
    scalar_head,
)
from lightning_csr.rewards.shaping import RewardShaping, batch_correctness

log = logging.getLogger(__name__)


class PPOModule(L.LightningModule):
    """PPO against a (factually augmented) reward model.

    Args:
        backbone: the VLM adapter; `backbone.lora` is required and sets the policy and value adapters;
            `backbone.quantization.bits: 4` puts the shared base in 4-bit (QLoRA).
        reward_model: a directory written by `RewardModelModule.export`; None builds an untrained reward
            adapter and head (tests only).
        reference: `adapter_off` (the base model) or `ref_adapter` (a frozen copy of the initial policy).
        ppo: the PPO hyper-parameters. shaping: reward scaling and the optional shaping terms.
        rollout_dir: where finished rollout chunks are saved (default `<trainer.default_root_dir>/rollouts`);
            reused only when the same settings, prompts and weights made them, else a clear error.
        use_facts: give the reward model the prompts' facts (None: as the reward model was trained).
        seed: minibatch order and fact shuffling.
    """

    def __init__(
        self,
        backbone: Backbone,
        reward_model: str | None = None,
        reference: str = "adapter_off",
        ppo: PPOSettings | None = None,
        shaping: RewardShaping | None = None,
        rollout_dir: str | None = None,
        use_facts: bool | None = None,
        seed: int = 0,
        optimizer: OptimizerCallable = default_optimizer,
        scheduler: SchedulerCallable = Constant,
    ) -> None:
        super().__init__()
        if backbone.lora is None:
            raise ValueError("PPOModule: set backbone.lora (policy, value and reward are LoRA adapters)")
        if reference not in ("adapter_off", "ref_adapter"):
            raise ValueError(f"reference: expected 'adapter_off' or 'ref_adapter', got {reference!r}")
        self.automatic_optimization = False
        self.backbone, self.reward_model_dir, self.reference_mode = backbone, reward_model, reference
        self.ppo, self.shaping = ppo or PPOSettings(), shaping or RewardShaping()
        self.rollout_dir, self.use_facts, self.seed = rollout_dir, use_facts, seed
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.kl_controller = self.ppo.kl_controller()
        self.iteration = 0
        self.policy: torch.nn.Module | None = None
        self.strict_loading = False

    # ------------------------------------------------------------- model
    def configure_model(self) -> None:
        if self.policy is not None:
            return
        self.policy = build_policy(self.backbone)
        self.adapters = SharedAdapters(self.policy)
        width = hidden_size(self.policy)
        if self.reward_model_dir is not None:
            self.reward_head, self.reward_prompt = load_reward_model(
                self.policy, self.reward_model_dir, REWARD
            )
        else:
            log.warning("PPOModule: no reward_model given; using an untrained reward adapter and head")
            self.adapters.add(REWARD)
            self.reward_head, self.reward_prompt = scalar_head(width).requires_grad_(False), RewardPrompt()
        if self.use_facts is not None:
            self.reward_prompt.use_facts = self.use_facts
        source = {"reward": REWARD, "policy": "default", "fresh": "default"}[self.ppo.value_init]
        self.adapters.add(VALUE, source, copy_weights=self.ppo.value_init != "fresh")
        self.value_head = scalar_head(width, zero=self.ppo.value_head_init == "zero")
        if self.ppo.value_head_init == "reward":
            self.value_head.load_state_dict(self.reward_head.state_dict())
        if self.reference_mode == "ref_adapter":
            self.adapters.add(REF, copy_weights=True)
        self.adapters.restore_flags()

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if datamodule is not None and hasattr(datamodule, "connect"):
            datamodule.connect(self.backbone)

    @property
    def store(self) -> RolloutStore:
        root = self.rollout_dir or str(Path(self.trainer.default_root_dir) / "rollouts")
        return RolloutStore(root)

    # ----------------------------------------------------------- rollouts
    def collect_rollout(self, batch: dict[str, list], iteration: int) -> dict[str, Any]:
        """The rollout of one iteration: finished chunks from disk, missing chunks sampled and saved.

        Stored chunks are reused only when the same settings, prompts and weights made them (else an error).
        """
        size, store, parts = self.ppo.generation_batch_size, self.store, []
        store.claim(iteration, *self.rollout_producer(batch))
        for chunk, start in enumerate(range(0, len(batch["prompts"]), size)):
            part = store.load(iteration, chunk)
            if part is None:
                part = self.rollout_chunk(
                    batch["prompts"][start : start + size], batch["images"][start : start + size]
                )
                store.save(iteration, chunk, part)
            parts.append(part)
        return merge_rollouts(parts, self.pad_id)

    def rollout_producer(self, batch: dict[str, list]) -> tuple[str, dict[str, Any]]:
        """Digest of what makes this batch's rollout, with the weights (every adapter, heads) as they are now."""
        settings = {
            "ppo": self.ppo,
            "reference": self.reference_mode,
            "backbone": backbone_settings(self.backbone),
            "tokenizer": tokenizer_fingerprint(self.backbone.tokenizer),
            "reward_model": model_files_digest(self.reward_model_dir) or self.reward_model_dir,
            "reward_prompt": self.reward_prompt,
            "seed": self.seed,
        }
        keys = self.trainable_state_keys()
        weights = ((n, p) for n, p in self.named_parameters() if n in keys)
        return rollout_producer(settings, batch["prompts"], batch["images"], weights)

    @property
    def pad_id(self) -> int:
        tokenizer = self.backbone.tokenizer
        return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.backbone.end_of_turn_id

    @torch.no_grad()
    def rollout_chunk(self, prompts: list, images: list) -> dict[str, Any]:
        """Sample responses for some prompts and score them: log-probs, reference, values, reward."""
        ppo = self.ppo
        texts_in = [p.prompt for p in prompts]
        rollout = sample_responses(
            self.policy, self.backbone, images, texts_in, ppo.max_new_tokens, ppo.temperature, ppo.top_p
        )
        rollout.update(ids=[p.id for p in prompts], prompts=texts_in, texts=texts(self.backbone, rollout))
        inputs, response = sequence_inputs(rollout, self.device), rollout["response_ids"]
        rollout["logps"] = response_logps(self.policy, inputs, response)[0].cpu()
        with self.adapters.reference(self.reference_mode) as reference:
            rollout["ref_logps"] = response_logps(reference, inputs, response)[0].cpu()
        with self.adapters.active(VALUE) as model:
            rollout["values"] = (
                response_values(model, self.value_head, inputs, response.shape[1]).float().cpu()
            )
        keys = [f"{p.id}:{self.iteration}" for p in prompts]
        batch = reward_inputs(
            self.backbone,
            images,
            texts_in,
            response_token_lists(rollout),
            [p.facts for p in prompts],
            keys,
            self.reward_prompt,
        )
        with self.adapters.active(REWARD) as model:
            batch = {k: v.to(self.device) for k, v in batch.items()}
            rollout["rm_scores"] = reward_scores(model, self.reward_head, self.backbone, batch).float().cpu()
        rollout["correctness"] = batch_correctness(
            rollout["texts"], [p.answer for p in prompts], [p.kind for p in prompts]
        )
        mask = rollout["response_mask"].float()
        for key in ("logps", "ref_logps", "values"):
            rollout[key] = rollout[key] * mask
        return rollout

    # ------------------------------------------------------------ update
    def training_step(self, batch: dict[str, list], batch_idx: int) -> None:
        rollout = self.collect_rollout(batch, self.iteration)
        kl_coef = self.kl_controller.value
        shaped = rollout_advantages(rollout, self.shaping, self.ppo, kl_coef)
        rollout.update(advantages=shaped["advantages"], returns=shaped["returns"])
        stats = self.ppo_epochs(rollout)
        self.kl_controller.update(shaped["kl"].mean().item(), len(rollout["ids"]))
        self.iteration += 1
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()
        n = len(rollout["ids"])
        self.log_dict({**iteration_logs(rollout, shaped, kl_coef, self.iteration), **stats}, batch_size=n)
        self.log("train/loss", stats["loss/total_avg"], prog_bar=True, batch_size=n)

    def ppo_epochs(self, rollout: dict[str, Any]) -> dict[str, torch.Tensor]:
        """`ppo_epochs` shuffled passes of clipped policy and value updates; mean statistics."""
        optimizer, ppo, n = self.optimizers(), self.ppo, len(rollout["ids"])
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.iteration)
        totals: dict[str, float] = {}
        steps = 0
        for _ in range(ppo.ppo_epochs):
            for rows in torch.randperm(n, generator=generator).split(ppo.minibatch_size):
                stats = self.ppo_minibatch(select_rows(rollout, rows), optimizer)
                for key, value in stats.items():
                    totals[key] = totals.get(key, 0.0) + value
                steps += 1
        return {key: torch.tensor(value / steps) for key, value in totals.items()}

    def ppo_minibatch(self, mb: dict[str, Any], optimizer) -> dict[str, float]:
        """One optimiser step: policy loss (policy adapter), then value loss (value adapter)."""
        ppo = self.ppo
        inputs, response = sequence_inputs(mb, self.device), mb["response_ids"].to(self.device)
        mask = mb["response_mask"].to(self.device).float()
        optimizer.zero_grad()
        logps, entropy = response_logps(self.policy, inputs, response, with_entropy=True)
        policy_loss, clipfrac, approx_kl = ppo_policy_loss(
            logps, mb["logps"].to(self.device), mb["advantages"].to(self.device), mask, ppo.clip_range
        )
        self.manual_backward(policy_loss)
        with self.adapters.active(VALUE) as model:
            values = response_values(model, self.value_head, inputs, response.shape[1])
            value_loss, value_clipfrac = ppo_value_loss(
                values,
                mb["values"].to(self.device),
                mb["returns"].to(self.device),
                mask,
                ppo.value_clip_range,
            )
            self.manual_backward(ppo.vf_coef * value_loss)
        total = policy_loss.detach() + ppo.vf_coef * value_loss.detach()
        if not torch.isfinite(total):
            raise FloatingPointError(f"non-finite PPO loss at iteration {self.iteration}, ids {mb['ids']}")
        if ppo.max_grad_norm is not None:
            self.clip_gradients(
                optimizer, gradient_clip_val=ppo.max_grad_norm, gradient_clip_algorithm="norm"
            )
        optimizer.step()
        return {
            "loss/policy_avg": policy_loss.item(),
            "loss/value_avg": value_loss.item(),
            "loss/total_avg": total.item(),
            "policy/clipfrac_avg": clipfrac.item(),
            "policy/approxkl_avg": approx_kl.item(),
            "policy/entropy_avg": masked_mean(entropy.detach(), mask).item(),
            "value/clipfrac_avg": value_clipfrac.item(),
        }

    # ------------------------------------------------------- optimisation
    def configure_optimizers(self):
        params = [*self.adapters.trainable_parameters(), *self.value_head.parameters()]
        optimizer = self.optimizer_factory(params)
        iterations = max(int(self.trainer.estimated_stepping_batches), 1) if self._trainer else 1
        return {"optimizer": optimizer, "lr_scheduler": self.scheduler_factory(optimizer, iterations)}

    def trainable_state_keys(self) -> set[str]:
        """What a checkpoint holds: policy and value adapters, value head, and the reward and ref adapters."""
        kept = (".default.", f".{VALUE}.", "value_head.", f".{REWARD}.", f".{REF}.", "reward_head.")
        return {n for n, _ in self.named_parameters() if any(k in n for k in kept)}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        keep = self.trainable_state_keys()
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keep}
        checkpoint["ppo"] = {"iteration": self.iteration, "kl_coef": self.kl_controller.value}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.configure_model()
        state = checkpoint.get("ppo", {})
        self.iteration = int(state.get("iteration", 0))
        if not math.isnan(state.get("kl_coef", math.nan)):
            self.kl_controller.value = state["kl_coef"]
