"""`PPOModule`: Fact-RLHF PPO with policy, reference, reward and value as adapters over one shared base.

Manual optimisation; one `model_step` = one PPO iteration: collect a rollout batch (`RolloutCollector`: sampled,
scored and saved chunk by chunk), shape per-token rewards with the KL penalty, GAE, whiten advantages, then
`ppo_epochs` passes of clipped policy and value updates. Validation and test sample and score responses for
held-out prompts (reward-model score, KL to the reference, length) without updating or storing anything.
"""

from __future__ import annotations

import logging
import math
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable

from lightning_csr.backbones.base import Backbone
from lightning_csr.distributed import Ranks
from lightning_csr.errors import non_finite_loss
from lightning_csr.generation.rollouts import select_rows, sequence_inputs
from lightning_csr.losses.masked import masked_mean
from lightning_csr.losses.ppo import ppo_policy_loss, ppo_value_loss
from lightning_csr.modules.base import PolicyModule, default_optimizer
from lightning_csr.modules.components.advantages import iteration_logs, rollout_advantages
from lightning_csr.modules.components.logprobs import response_logprobs, response_values
from lightning_csr.modules.components.ppo_settings import PPOSettings
from lightning_csr.modules.components.reference import POLICY_ADAPTER, REF_ADAPTER
from lightning_csr.modules.components.rollout_collection import RolloutCollector, prompt_seeded
from lightning_csr.modules.components.schedules import Constant, SchedulerCallable
from lightning_csr.modules.components.shared_adapters import REWARD, VALUE, SharedAdapters
from lightning_csr.rewards.reward_model import RewardPrompt, hidden_size, load_reward_model, scalar_head
from lightning_csr.rewards.shaping import RewardShaping

log = logging.getLogger(__name__)
PPO_REFERENCES = ("adapter_off", "ref_adapter")


class PPOModule(PolicyModule):
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
        if backbone.lora is None:
            raise ValueError("PPOModule: set backbone.lora (policy, value and reward are LoRA adapters)")
        if reference not in PPO_REFERENCES:
            raise ValueError(f"reference: expected one of {PPO_REFERENCES}, got {reference!r}")
        super().__init__(backbone, reference, optimizer, scheduler)
        self.automatic_optimization = False
        self.reward_model_dir = reward_model
        self.ppo, self.shaping = ppo or PPOSettings(), shaping or RewardShaping()
        self.rollout_dir, self.use_facts, self.seed = rollout_dir, use_facts, seed
        self.kl_controller = self.ppo.kl_controller()
        self.iteration = 0
        self.rollouts = RolloutCollector(self)

    def build_parts(self) -> None:
        """The reward adapter and head, the value adapter and head (the reference follows, in the base)."""
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
        source = {"reward": REWARD, "policy": POLICY_ADAPTER, "fresh": POLICY_ADAPTER}[self.ppo.value_init]
        self.adapters.add(VALUE, source, copy_weights=self.ppo.value_init != "fresh")
        self.value_head = scalar_head(width, zero=self.ppo.value_head_init == "zero")
        if self.ppo.value_head_init == "reward":
            self.value_head.load_state_dict(self.reward_head.state_dict())
        self.adapters.restore_flags()

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if stage == "fit" and self._trainer is not None:
            datamodule = getattr(self.trainer, "datamodule", None)
            self.ppo.check_ranks(self.trainer.world_size, getattr(datamodule, "rollout_batch_size", None))

    # ------------------------------------------------------------ update
    def model_step(self, batch: dict[str, list], stage: str) -> torch.Tensor:
        """One PPO iteration on a batch of prompts (the mean total loss of its updates); `evaluate` otherwise."""
        if stage != "train":
            return self.evaluate(batch, stage)
        rollout = self.rollouts.collect(batch, self.iteration)
        kl_coef, ranks = self.kl_controller.value, Ranks()
        shaped = rollout_advantages(rollout, self.shaping, self.ppo, kl_coef, ranks)
        rollout.update(advantages=shaped["advantages"], returns=shaped["returns"])
        stats = self.ppo_epochs(rollout)
        kl_sum, count = ranks.sum(torch.tensor([shaped["kl"].sum().item(), len(rollout["ids"])]).double())
        self.kl_controller.update((kl_sum / count).item(), int(count))  # the same coefficient on every rank
        self.iteration += 1
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()
        n = len(rollout["ids"])
        logs = {**iteration_logs(rollout, shaped, kl_coef, self.iteration), **stats}
        self.log_dict(logs, batch_size=n, sync_dist=ranks.several)
        self.log("train/loss", stats["loss/total_avg"], prog_bar=True, batch_size=n, sync_dist=ranks.several)
        return stats["loss/total_avg"]

    @torch.no_grad()
    def evaluate(self, batch: dict[str, list], stage: str) -> torch.Tensor:
        """Score fresh responses to held-out prompts as training would; no update, nothing stored.

        The sampling seed is a function of (`seed`, the prompt ids) only, on a forked RNG: evaluating twice gives
        the same numbers, and evaluation never shifts the training run's random stream (resume stays exact).

        Logs `<stage>/rlhf_reward` (score minus the KL penalty at the current coefficient), `<stage>/rm_score`,
        `<stage>/kl`, `<stage>/length`, `<stage>/ended` and the other shaped terms; returns the mean rlhf reward.
        """
        with prompt_seeded(self.seed, batch["prompts"], self.device):
            rollout = self.rollouts.sample(batch)
        kl_coef = self.kl_controller.value
        shaped = rollout_advantages(rollout, self.shaping, self.ppo, kl_coef)
        logs = iteration_logs(rollout, shaped, kl_coef, self.iteration)
        del logs["objective/kl_coef"], logs["ppo/iteration"]
        logs = {f"{stage}/{name.split('/', 1)[1]}": value for name, value in logs.items()}
        self.log_dict(logs, batch_size=len(rollout["ids"]), sync_dist=Ranks().several)
        return logs[f"{stage}/rlhf_reward"]

    def ppo_epochs(self, rollout: dict[str, Any]) -> dict[str, torch.Tensor]:
        """`ppo_epochs` shuffled passes of clipped policy and value updates (this rank's share of each
        minibatch); mean statistics."""
        optimizer, ppo, n = self.optimizers(), self.ppo, len(rollout["ids"])
        rows_per_step = ppo.minibatch_size // Ranks().world_size
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.iteration)
        totals: dict[str, float] = {}
        steps = 0
        for _ in range(ppo.ppo_epochs):
            for rows in torch.randperm(n, generator=generator).split(rows_per_step):
                stats = self.ppo_minibatch(select_rows(rollout, rows), optimizer)
                for key, value in stats.items():
                    totals[key] = totals.get(key, 0.0) + value
                steps += 1
        return {key: torch.tensor(value / steps) for key, value in totals.items()}

    def ppo_minibatch(self, mb: dict[str, Any], optimizer) -> dict[str, float]:
        """One optimiser step: policy loss (policy adapter), then value loss (value adapter).

        Each rank's token-mean losses are weighted by its share of all ranks' response tokens, so that the
        averaged gradient, and the mean of the logged statistics, are those of the token mean over the whole
        minibatch (weight 1 in one process)."""
        ppo, ranks = self.ppo, Ranks()
        inputs, response = sequence_inputs(mb, self.device), mb["response_ids"].to(self.device)
        mask = mb["response_mask"].to(self.device).float()
        share = ranks.world_size * mask.sum() / ranks.sum(mask.sum())
        optimizer.zero_grad()
        logps, entropy = response_logprobs(self.policy, inputs, response, with_entropy=True)
        policy_loss, clipfrac, approx_kl = ppo_policy_loss(
            logps, mb["logps"].to(self.device), mb["advantages"].to(self.device), mask, ppo.clip_range
        )
        with self.local_gradients():
            self.manual_backward(policy_loss * share)
        with self.adapters.active(VALUE) as model:
            values = response_values(model, self.value_head, inputs, response.shape[1])
            value_loss, value_clipfrac = ppo_value_loss(
                values,
                mb["values"].to(self.device),
                mb["returns"].to(self.device),
                mask,
                ppo.value_clip_range,
            )
            with self.local_gradients():
                self.manual_backward(ppo.vf_coef * value_loss * share)
        ranks.average_gradients(self.trainable_parameters())  # DDP's own sync is off (`local_gradients`)
        total = policy_loss.detach() + ppo.vf_coef * value_loss.detach()
        if not torch.isfinite(total):
            raise non_finite_loss(total.item(), f"PPO iteration {self.iteration}", mb["ids"])
        if ppo.max_grad_norm is not None:
            self.clip_gradients(
                optimizer, gradient_clip_val=ppo.max_grad_norm, gradient_clip_algorithm="norm"
            )
        optimizer.step()
        token_means = {
            "loss/policy_avg": policy_loss,
            "loss/value_avg": value_loss,
            "loss/total_avg": total,
            "policy/clipfrac_avg": clipfrac,
            "policy/approxkl_avg": approx_kl,
            "policy/entropy_avg": masked_mean(entropy.detach(), mask),
            "value/clipfrac_avg": value_clipfrac,
        }  # weighted, so that their mean over the ranks is the mean over all ranks' tokens
        return {name: (value.detach() * share).item() for name, value in token_means.items()}

    def local_gradients(self) -> AbstractContextManager:
        """Under DDP, backward passes that leave the gradients on this rank (`ppo_minibatch` averages them once per
        minibatch): DDP's reducer expects one backward per forward, and PPO runs two per minibatch, several
        minibatches per training step."""
        model = self.trainer.strategy.model
        if isinstance(model, torch.nn.parallel.DistributedDataParallel):
            return model.no_sync()
        return nullcontext()

    # ------------------------------------------------ optimisation, checkpoints
    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """The policy and value adapters (whatever the flags say at the moment) and the value head."""
        return [*self.adapters.trainable_parameters(), *self.value_head.parameters()]

    def checkpoint_keys(self) -> set[str]:
        """Policy and value adapters, value head, and the reward adapter and head and the ref adapter."""
        adapters = (POLICY_ADAPTER, VALUE, REWARD, REF_ADAPTER)
        kept = (*(f".{a}." for a in adapters), "value_head.", "reward_head.")
        return {n for n, _ in self.named_parameters() if any(k in n for k in kept)}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["ppo"] = {"iteration": self.iteration, "kl_coef": self.kl_controller.value}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        state = checkpoint.get("ppo", {})
        self.iteration = int(state.get("iteration", 0))
        if not math.isnan(state.get("kl_coef", math.nan)):
            self.kl_controller.value = state["kl_coef"]
