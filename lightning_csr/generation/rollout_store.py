"""Finished PPO rollout chunks on disk, stamped with the digest of what made them (settings, prompts, weights)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from lightning_csr.data.provenance import (
    ProducerMismatchError,
    ProducerStamp,
    settings_digest,
    tensors_digest,
)


def images_digest(images: Sequence[Image.Image]) -> str:
    """SHA-256 of images' modes, sizes and pixels, in order."""
    digest = hashlib.sha256()
    for image in images:
        digest.update(f"{image.mode}|{image.size}|".encode())
        digest.update(image.tobytes())
    return digest.hexdigest()


def rollout_producer(
    settings: dict[str, Any],
    prompts: Sequence[Any],
    images: Sequence[Image.Image],
    weights: Iterable[tuple[str, torch.Tensor]],
) -> tuple[str, dict[str, Any]]:
    """(digest, readable summary) of what makes an iteration's rollout: settings, prompts, images, weights."""
    described = {
        **settings,
        "prompts": settings_digest(list(prompts)),
        "prompt_ids": [getattr(p, "id", None) for p in prompts],
        "images": images_digest(images),
        "weights": tensors_digest(weights),
    }
    return settings_digest(described), described


class RolloutStore:
    """Finished rollout chunks on disk, `<root>/iteration_<k>/chunk_<j>.pt`, each written atomically.

    Each iteration directory holds `producer.json`, the digest of what sampled its chunks (`claim`); chunks are
    reused only under the same digest.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def iteration_dir(self, iteration: int) -> Path:
        return self.root / f"iteration_{iteration:06d}"

    def chunk_path(self, iteration: int, chunk: int) -> Path:
        return self.iteration_dir(iteration) / f"chunk_{chunk:03d}.pt"

    def claim(self, iteration: int, digest: str, described: dict[str, Any] | None = None) -> None:
        """Stamp an iteration's directory with its producer, or check that its stored chunks share it."""
        directory = self.iteration_dir(iteration)
        advice = (
            f"to start fresh, delete {directory.parent} or point `rollout_dir` "
            "(default `<trainer.default_root_dir>/rollouts`) elsewhere"
        )
        stamp = ProducerStamp(directory, "PPO rollout chunks", advice)
        if stamp.recorded() is None and any(directory.glob("chunk_*.pt")):
            raise ProducerMismatchError(f"{directory}: holds PPO rollout chunks of unknown origin; {advice}")
        stamp.claim(digest, described)

    def load(self, iteration: int, chunk: int) -> dict[str, Any] | None:
        """A finished chunk, or None when it was never finished."""
        path = self.chunk_path(iteration, chunk)
        return torch.load(path, weights_only=False) if path.is_file() else None

    def save(self, iteration: int, chunk: int, rollout: dict[str, Any]) -> Path:
        """Write a chunk atomically (temp file in the same directory, then rename)."""
        path = self.chunk_path(iteration, chunk)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            torch.save(rollout, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path
