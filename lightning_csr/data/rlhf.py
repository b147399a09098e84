"""Data for Fact-RLHF: reward-model pairs (facts in `meta.facts`) and PPO prompts (with facts and answers).

Reward pairs are ordinary preference records; `meta.facts` (a list of strings) feeds factual augmentation.
PPO prompt files are JSONL lines `{id, image, prompt, facts?, answer?, kind?}`: `answer` is a gold short
answer ("yes"/"no" or an option letter) used only by the optional correctness bonus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
from torch.utils.data import DataLoader, Dataset

from lightning_csr.backbones.base import Backbone
from lightning_csr.data.datamodule import PreferenceDataModule
from lightning_csr.data.hf_datasets import is_dataset_source, iter_source
from lightning_csr.data.preference_dataset import PreferenceDataset, load_image
from lightning_csr.data.preflight_datamodule import PreflightedData
from lightning_csr.data.preflight_tokens import prompt_collator
from lightning_csr.data.rank_sampler import per_rank_batch, rank_batched
from lightning_csr.data.records import RecordError
from lightning_csr.data.sampling import EpochShuffle, serving_epoch
from lightning_csr.rewards.reward_model import RewardPrompt, reward_inputs


class RewardPairCollator:
    """Chosen then rejected reward inputs in one [2B, T] batch; facts shuffled per (seed, id, epoch)."""

    def __init__(self, backbone: Backbone, prompt: RewardPrompt, epoch: int = 0) -> None:
        self.backbone, self.prompt, self.epoch = backbone, prompt, epoch

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        records = [item["record"] for item in items]
        images = [item["image"] for item in items]
        ids = [r.id for r in records]
        responses = [self.backbone.response_ids(r.chosen) for r in records]
        responses += [self.backbone.response_ids(r.rejected) for r in records]
        facts = [list(r.meta.get("facts") or []) for r in records] * 2
        keys = [f"{r.id}:{self.epoch}" for r in records] * 2
        batch = reward_inputs(
            self.backbone, images * 2, [r.prompt for r in records] * 2, responses, facts, keys, self.prompt
        )
        batch["ids"] = ids
        return batch


class RewardPairDataModule(PreferenceDataModule):
    """Preference pairs turned into reward-model inputs, with or without factual augmentation.

    Args:
        reward_prompt: the judging turn (`use_facts: false` gives the plain reward model).
        (the rest as in `PreferenceDataModule`; `max_length` filtering is not applied here)
    """

    def __init__(self, reward_prompt: RewardPrompt | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reward_prompt = reward_prompt or RewardPrompt()

    def token_collator(self):
        """Reward inputs, their image tokens checked as the training batches' are."""
        collate = RewardPairCollator(self.backbone, self.reward_prompt)

        def checked(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
            batch = collate(items)
            self.backbone.check_image_tokens(batch, batch["ids"] * 2)
            return batch

        return checked

    def _loader(self, dataset: PreferenceDataset, shuffle: bool) -> DataLoader:
        loader = super()._loader(dataset, shuffle)
        epoch = serving_epoch(self.trainer) if shuffle else 0
        loader.collate_fn = RewardPairCollator(self.backbone, self.reward_prompt, epoch)
        return loader


@dataclass
class RLPrompt:
    """A PPO prompt: image, question, facts for the reward model, optional gold short answer."""

    id: str
    image: str
    prompt: str
    facts: tuple[str, ...] = ()
    answer: str | None = None
    kind: str = "general"


def parse_rl_prompt(obj: Any, where: str, index: int = 0) -> RLPrompt:
    """A PPO prompt of a JSON object; a missing field or malformed `facts` is an error naming `where`."""
    if not isinstance(obj, dict):
        raise RecordError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key in ("id", "image", "prompt"):
        if not str(obj.get(key, "")).strip():
            raise RecordError(f"{where}: missing or empty field {key!r}")
    facts = obj.get("facts") or (obj.get("meta") or {}).get("facts") or []
    if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
        raise RecordError(f"{where}: field 'facts' must be a list of strings")
    return RLPrompt(
        str(obj["id"]),
        str(obj["image"]),
        str(obj["prompt"]),
        tuple(facts),
        obj.get("answer"),
        obj.get("kind", "general"),
    )


def read_rl_prompts(path: str | Path, limit: int | None = None) -> list[RLPrompt]:
    """Read a PPO prompt file or dataset (a `read_prompts` source works too); errors name the file and line."""
    path = Path(path)
    if not path.is_file() and not is_dataset_source(path):
        raise FileNotFoundError(f"prompts file not found: {path}")
    prompts = [parse_rl_prompt(obj, where) for where, _, obj in iter_source(path)]
    return prompts[:limit] if limit is not None else prompts


class RLPromptDataset(Dataset):
    """PPO prompts plus the directory their images are relative to."""

    def __init__(self, prompts: Sequence[RLPrompt], image_root: str | Path) -> None:
        self.prompts, self.image_root = list(prompts), Path(image_root)

    def __len__(self) -> int:
        return len(self.prompts)

    def __getitem__(self, index: int) -> dict[str, Any]:
        prompt = self.prompts[index]
        return {"prompt": prompt, "image": load_image(self.image_root, prompt.image, prompt.id)}


def collate_prompts(items: Sequence[dict[str, Any]]) -> dict[str, list]:
    """A rollout batch: parallel lists of prompt records and images."""
    return {"prompts": [i["prompt"] for i in items], "images": [i["image"] for i in items]}


class RLPromptDataModule(PreflightedData, L.LightningDataModule):
    """Batches of prompts for PPO rollouts: one batch = one PPO iteration.

    Args:
        train_file: PPO prompt JSONL (`{id, image, prompt, facts?, answer?, kind?}`).
        val_file, test_file: optional held-out prompts in the same format (scored, never trained on).
        image_root: directory image paths are relative to (default: the file's directory).
        rollout_batch_size: prompts per iteration, over all ranks: on `W` ranks rank `r` samples the `r`-th
            `rollout_batch_size / W` of the batch one process would take (it must divide by `W`).
        limit: use only the first `limit` prompts.
        seed: the order is a function of (seed, epoch) only.
        on_bad_record: `error` (stop before the first step, listing every bad prompt) or `skip` (drop them).
        check_pixels: decode every image in the pre-flight check (default: headers only).
    """

    def __init__(
        self,
        train_file: str,
        val_file: str | None = None,
        test_file: str | None = None,
        image_root: str | None = None,
        rollout_batch_size: int = 16,
        limit: int | None = None,
        seed: int = 0,
        num_workers: int = 0,
        on_bad_record: str = "error",
        check_pixels: bool = False,
    ) -> None:
        super().__init__()
        self.init_preflight(on_bad_record, check_pixels)
        self.train_file, self.val_file, self.test_file = train_file, val_file, test_file
        self.image_root = image_root
        self.rollout_batch_size, self.limit, self.seed, self.num_workers = (
            rollout_batch_size,
            limit,
            seed,
            num_workers,
        )

    def connect(self, backbone: Backbone) -> None:
        """Called by the module's `setup`: check this stage's prompt files with the policy's processor."""
        self.backbone = backbone
        self.check_files()

    def dataset(self, path: str, limit: int | None = None) -> RLPromptDataset:
        """The checked prompts of a file (the first `limit` of them)."""
        root = self.image_root or str(Path(path).parent)
        collate = prompt_collator(self.backbone) if self.backbone is not None else None
        prompts = [
            prompt for _, prompt in self.preflight(path, parse_rl_prompt, root, collate=collate).records
        ]
        return RLPromptDataset(prompts[:limit] if limit is not None else prompts, root)

    def train_dataloader(self) -> DataLoader:
        world_size = self.trainer.world_size if self.trainer is not None else 1
        batch_size = per_rank_batch(self.rollout_batch_size, world_size, "data.rollout_batch_size")
        dataset = self.dataset(self.train_file, self.limit)
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=EpochShuffle(len(dataset), self.seed, serving_epoch(self.trainer)),
            drop_last=True,
            num_workers=self.num_workers,
            collate_fn=collate_prompts,
        )
        return rank_batched(loader, self.trainer, self.seed, shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        return [] if self.val_file is None else self._held_out(self.val_file)

    def test_dataloader(self) -> DataLoader:
        if self.test_file is None:
            raise ValueError("RLPromptDataModule: set data.test_file to test (held-out prompts, same format)")
        return self._held_out(self.test_file)

    def _held_out(self, path: str) -> DataLoader:
        return DataLoader(
            self.dataset(path),
            batch_size=self.rollout_batch_size,
            num_workers=self.num_workers,
            collate_fn=collate_prompts,
        )
