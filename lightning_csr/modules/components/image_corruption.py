"""Diffusion-noised copies of a batch's images for TPO and POVID, in the processor's own pixel grid.

Where the noise goes (a decision): we un-normalise `pixel_values` back to the [0, 1] pixels the processor
produced after resizing/cropping, apply `corrupt_pixels` (clamped), and normalise again. Compared with
noising the PIL image before the processor (the released repos), this

* makes the noise strength independent of the source resolution (the repos add it at the original size and
  the resize averages part of it away; povid_tpo.md §1 quirk 2) and also noises the padding border;
* needs no second processor call and no change to the collator or DataModule, so any preference data works;
* lets one step build the corrupted view once and hand the same tensor to the policy and the reference.

Noise is seeded per (seed, record id, epoch): chosen and rejected rows of one record get the same noisy image,
a rerun or a resumed run gets the same noise, and a new epoch gets a fresh draw (as the repos' `__getitem__`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from lightning_csr.modules.components.image_noise import SCHEDULE_KINDS, corrupt_pixels, noise_schedule


@dataclass
class CorruptionSettings:
    """Diffusion-noise corruption: schedule (T steps, β range, shape), the step t and the seed.

    Defaults are the released POVID/TPO values (T = 1000, sigmoid β in [1e-5, 5e-3], t = 500), clamped.
    """

    step: int = 500
    num_steps: int = 1000
    beta_start: float = 1e-5
    beta_end: float = 5e-3
    schedule: str = "sigmoid"
    seed: int = 0
    clamp: bool = True

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULE_KINDS:
            raise ValueError(f"corruption.schedule: expected one of {SCHEDULE_KINDS}, got {self.schedule!r}")
        if not 0 <= self.step < self.num_steps:
            raise ValueError(f"corruption.step: must be in [0, {self.num_steps}), got {self.step}")


def sample_seed(seed: int, record_id: str, epoch: int) -> int:
    """A 63-bit generator seed that depends only on (seed, record id, epoch)."""
    digest = hashlib.sha256(f"{seed}|{record_id}|{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def _normalisation(image_processor: Any, channels: int) -> tuple[Tensor, Tensor, float]:
    """Per-channel mean, std and the factor from [0, 1] to the processor's rescaled range."""
    mean = (
        getattr(image_processor, "image_mean", None)
        if getattr(image_processor, "do_normalize", True)
        else None
    )
    std = (
        getattr(image_processor, "image_std", None)
        if getattr(image_processor, "do_normalize", True)
        else None
    )
    mean = torch.tensor(mean if mean is not None else [0.0] * channels, dtype=torch.float32)
    std = torch.tensor(std if std is not None else [1.0] * channels, dtype=torch.float32)
    if getattr(image_processor, "do_rescale", True):
        scale = float(getattr(image_processor, "rescale_factor", 1 / 255)) * 255
    else:
        scale = 255.0
    return mean, std, scale


class ImageCorruptor:
    """Builds the corrupted view of a preference batch ([2B] rows, images repeated) for one step."""

    def __init__(self, settings: CorruptionSettings | None = None) -> None:
        self.settings = settings or CorruptionSettings()
        s = self.settings
        self.schedule = noise_schedule(s.num_steps, s.beta_start, s.beta_end, s.schedule)

    def corrupt_pixel_values(
        self, pixel_values: Tensor, image_processor: Any, ids: Sequence[str], epoch: int
    ) -> Tensor:
        """Noise normalised `pixel_values` [R, ..., C, H, W]; row r shows the image of `ids[r % len(ids)]`."""
        if pixel_values.dim() < 3:
            raise ValueError(
                f"pixel_values of shape {tuple(pixel_values.shape)}: only [..., C, H, W] layouts are supported"
            )
        rows = pixel_values.shape[0]
        if rows % len(ids):
            raise ValueError(f"{rows} pixel rows do not split evenly over {len(ids)} records")
        channels = pixel_values.shape[-3]
        mean, std, scale = _normalisation(image_processor, channels)
        shape = (channels, 1, 1)
        mean, std = mean.view(shape).to(pixel_values.device), std.view(shape).to(pixel_values.device)
        pixels01 = (pixel_values.float() * std + mean) / scale
        noisy = torch.empty_like(pixels01)
        for index, record_id in enumerate(ids):
            generator = torch.Generator().manual_seed(sample_seed(self.settings.seed, record_id, epoch))
            clean = pixels01[index].cpu()
            corrupted = corrupt_pixels(
                clean, self.settings.step, generator, self.settings.clamp, self.schedule
            ).to(pixels01.device)
            noisy[index :: len(ids)] = corrupted  # every copy of this record's image gets the same noise
        return ((noisy * scale - mean) / std).to(pixel_values.dtype)

    def corrupt_batch(self, batch: dict[str, Any], image_processor: Any, epoch: int) -> dict[str, Any]:
        """A shallow copy of `batch` whose `pixel_values` are corrupted (one draw per record)."""
        with torch.no_grad():
            pixels = self.corrupt_pixel_values(batch["pixel_values"], image_processor, batch["ids"], epoch)
        return {**batch, "pixel_values": pixels}
