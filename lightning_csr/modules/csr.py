"""`CSRModule`: Calibrated Self-Rewarding — DPO on pairs the policy writes and scores itself, iterated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from PIL import Image

from lightning_csr.backbones.base import Backbone
from lightning_csr.data.provenance import tensors_digest
from lightning_csr.generation.pairs import AnswerRanker, Curation, curate_pairs
from lightning_csr.generation.search import sentence_search
from lightning_csr.generation.settings import SearchSettings
from lightning_csr.losses.dpo import DPOLossSettings
from lightning_csr.modules.base import default_optimizer
from lightning_csr.modules.components.schedules import SchedulerCallable, WarmupCosine
from lightning_csr.modules.preference import PreferenceModule
from lightning_csr.rewards.calibrated import RewardSettings


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
        ranker: ranks the complete answers instead of the calibrated reward (e.g. ShapeWorld's exact-count
            oracle, `lightning_csr.shapeworld.study.ExactCountRanker`); the search is unchanged.

    Every iteration trains with a fresh optimizer and a schedule sized to the pairs it really kept (the paper
    trains each iteration anew), also after a resume.
    """

    def __init__(
        self,
        backbone: Backbone,
        search: SearchSettings | None = None,
        reward: RewardSettings | None = None,
        clip_model: str | None = None,
        min_margin: float = 0.0,
        match_length: bool = False,
        ranker: AnswerRanker | None = None,
        loss: DPOLossSettings | None = None,
        reference: str = "ref_adapter",
        cache_reference: bool = False,
        optimizer: OptimizerCallable = default_optimizer,
        scheduler: SchedulerCallable = WarmupCosine,
    ) -> None:
        super().__init__(backbone, loss, reference, cache_reference, optimizer, scheduler)
        self.search = search or SearchSettings()
        self.reward = reward or RewardSettings()
        if clip_model is None and self.reward.lam > 0:
            raise ValueError(f"reward.lam={self.reward.lam} needs `clip_model` for the image-relevance score")
        self.clip_model = clip_model
        self.min_margin = min_margin
        self.match_length = match_length
        self.ranker = ranker
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
        search = SearchSettings(**{**vars(self.search), "seed": self.search.seed + 1000 * iteration})
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
            self.ranker,
        )

    def generation_identity(self) -> dict[str, Any]:
        """What decides the pairs `generate_pairs` writes: settings, and the digests of every weight it uses."""
        scorer = self.image_scorer
        ranker = {} if self.ranker is None else {"ranker": self.ranker.identity()}  # older stamps stay valid
        return ranker | {
            "search": self.search,
            "reward": self.reward,
            "min_margin": self.min_margin,
            "match_length": self.match_length,
            "backbone": self.backbone.describe(),
            "policy_weights": tensors_digest(self.policy.named_parameters()),
            "clip_weights": tensors_digest(scorer.model.named_parameters()) if scorer is not None else None,
        }

    def schedule_phase(self, epoch: int) -> int:
        """One optimisation phase per iteration (= epoch)."""
        return epoch

    def phase_epochs(self, phase: int) -> int:
        return 1

    def total_training_steps(self) -> int:
        """A placeholder: the pairs do not exist when Lightning first builds the optimizer; each iteration's
        schedule is sized at its start from the pairs it kept (`on_train_epoch_start`)."""
        return 1
