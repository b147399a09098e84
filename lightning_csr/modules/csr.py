"""`CSRModule`: Calibrated Self-Rewarding — DPO on pairs the policy writes and scores itself, iterated."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from lightning.pytorch.cli import OptimizerCallable
from PIL import Image

from lightning_csr.backbones.base import Backbone
from lightning_csr.generation.config import SearchConfig
from lightning_csr.generation.pairs import Curation, curate_pairs
from lightning_csr.generation.search import sentence_search
from lightning_csr.losses.dpo import DPOLossConfig
from lightning_csr.modules.base import default_optimizer
from lightning_csr.modules.preference import PreferenceModule
from lightning_csr.modules.schedules import SchedulerCallable, WarmupCosine
from lightning_csr.rewards.calibrated import RewardConfig


class CSRModule(PreferenceModule):
    """Holds the policy, the frozen reference (previous iteration) and the reward components (self-reward + CLIP).

    One training epoch is one CSR iteration; `PreferenceRegenerationCallback` calls `generate_pairs` to write
    each iteration's pairs and `ReferenceSyncCallback` moves the reference forward.

    Args:
        search: the sentence-level search (candidates, sentence ends, caps, pruning).
        reward: calibrated reward (`lam`, paper/code scoring, what guides the search).
        clip_model: a Hugging Face CLIP checkpoint or directory for R_I (None only with `reward.lam == 0`).
        min_margin: pairs whose chosen/rejected score margin is at most this are dropped.
        match_length: rejected = the worst answer at least as long (in sentences) as the chosen one.
        reset_optimizer: fresh optimizer and schedule at every iteration (the paper trains each iteration anew).
    """

    def __init__(
        self,
        backbone: Backbone,
        search: SearchConfig | None = None,
        reward: RewardConfig | None = None,
        clip_model: str | None = None,
        min_margin: float = 0.0,
        match_length: bool = False,
        reset_optimizer: bool = True,
        loss: DPOLossConfig | None = None,
        reference: str = "ref_adapter",
        cache_reference: bool = False,
        optimizer: OptimizerCallable = default_optimizer,
        scheduler: SchedulerCallable = WarmupCosine,
    ) -> None:
        super().__init__(backbone, loss, reference, cache_reference, optimizer, scheduler)
        self.search = search or SearchConfig()
        self.reward = reward or RewardConfig()
        if clip_model is None and self.reward.lam > 0:
            raise ValueError(f"reward.lam={self.reward.lam} needs `clip_model` for the image-relevance score")
        self.clip_model = clip_model
        self.min_margin = min_margin
        self.match_length = match_length
        self.reset_optimizer = reset_optimizer
        self.pairs_per_iteration: int | None = None
        self._image_scorer = None

    @property
    def image_scorer(self):
        """The CLIP relevance scorer, loaded on first use and kept on the policy's device."""
        if self.clip_model is None:
            return None
        if self._image_scorer is None:
            from lightning_csr.rewards.clip_relevance import ClipRelevance

            self._image_scorer = ClipRelevance(self.clip_model)
        self._image_scorer.model.to(self.device)
        return self._image_scorer

    @torch.no_grad()
    def generate_pairs(
        self,
        images: Sequence[Image.Image],
        prompts: Sequence[str],
        ids: Sequence[str],
        image_refs: Sequence[str],
        iteration: int,
    ) -> Curation:
        """Search, score and curate one preference pair per prompt with the current policy."""
        search = SearchConfig(**{**vars(self.search), "seed": self.search.seed + 1000 * iteration})
        scorer = self.image_scorer
        trees = sentence_search(
            self.policy, self.backbone, images, prompts, search, scorer, self.reward, keys=ids
        )
        return curate_pairs(
            trees,
            self.backbone.tokenizer,
            images,
            image_refs,
            ids,
            self.reward,
            scorer,
            self.min_margin,
            self.match_length,
        )

    def total_training_steps(self) -> int:
        """Steps of one iteration (the schedule restarts each iteration) or of the whole run."""
        if self.pairs_per_iteration is None:
            return super().total_training_steps()
        trainer = self.trainer
        batch_size = trainer.datamodule.batch_size
        per_epoch = math.ceil(
            math.ceil(self.pairs_per_iteration / batch_size) / trainer.accumulate_grad_batches
        )
        if trainer.max_steps and trainer.max_steps > 0:
            per_epoch = min(per_epoch, trainer.max_steps)
        epochs = 1 if self.reset_optimizer else max(trainer.max_epochs or 1, 1)
        return max(per_epoch * epochs, 1)
