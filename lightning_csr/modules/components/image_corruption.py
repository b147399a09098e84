"""Diffusion-noise image corruption of POVID and TPO (povid_tpo.md §1), on PIL images or a batch's pixels.

Forward diffusion at a fixed step t of a T-step schedule:
``x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 − ᾱ_t)·ε``, ε ~ N(0, I), on pixels in [0, 1], with
``β = sigmoid(linspace(−6, 6, T))·(β_end − β_start) + β_start`` and ``ᾱ = cumprod(1 − β)``.
Both released repos use T = 1000, β ∈ [1e-5, 5e-3] and t = 500 (sqrt(ᾱ) ≈ 0.863, sqrt(1 − ᾱ) ≈ 0.505),
applied to the PIL image before the processor resizes and normalises it (`corrupt_image`).

Where the noise goes in training (a decision): `ImageCorruptor` un-normalises a batch's `pixel_values` back to
the [0, 1] pixels the processor produced after resizing/cropping, applies `corrupt_pixels` (clamped), and
normalises again. Compared with noising the PIL image before the processor (the released repos), this

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
from typing import Any, NamedTuple

import torch
from PIL import Image
from torch import Tensor
from torchvision.transforms.functional import pil_to_tensor, to_pil_image

SCHEDULE_KINDS = ("sigmoid", "linear")


class NoiseSchedule(NamedTuple):
    """Per-step noise variances β_t and their cumulative signal fractions ᾱ_t (float64, length T)."""

    betas: Tensor
    alphas_cumprod: Tensor


def noise_schedule(
    num_steps: int = 1000, beta_start: float = 1e-5, beta_end: float = 5e-3, kind: str = "sigmoid"
) -> NoiseSchedule:
    """The diffusion variance schedule of POVID/TPO (``kind="sigmoid"``) or a linear one."""
    if kind not in SCHEDULE_KINDS:
        raise ValueError(f"unknown schedule kind {kind!r}; known kinds are {SCHEDULE_KINDS}")
    if num_steps < 1:
        raise ValueError(f"num_steps must be at least 1, got {num_steps}")
    if kind == "sigmoid":
        shape = torch.sigmoid(torch.linspace(-6, 6, num_steps, dtype=torch.float64))
    else:
        shape = torch.linspace(0, 1, num_steps, dtype=torch.float64)
    betas = shape * (beta_end - beta_start) + beta_start
    return NoiseSchedule(betas=betas, alphas_cumprod=torch.cumprod(1 - betas, dim=0))


def _uint8_wraparound(pixels01: Tensor) -> Tensor:
    """Reproduce ``to_pil_image``'s unclamped ``mul(255).byte()``: truncate, then wrap modulo 256."""
    return torch.remainder(torch.trunc(pixels01 * 255), 256) / 255


def corrupt_pixels(
    pixels01: Tensor,
    step: int = 500,
    generator: torch.Generator | None = None,
    clamp: bool = True,
    schedule: NoiseSchedule | None = None,
    legacy_wrap: bool = False,
) -> Tensor:
    """Noise [0, 1] pixels to diffusion step ``step``: sqrt(ᾱ_t)·x + sqrt(1 − ᾱ_t)·ε, clamped to [0, 1].

    ``legacy_wrap=True`` reproduces the released code, which skipped clamping so that out-of-range values
    wrapped around when cast to uint8 (−0.2 → 205/255, 1.2 → 50/255): a bug, kept only for exact
    reproduction. It overrides ``clamp`` and returns values quantised to multiples of 1/255.
    """
    schedule = noise_schedule() if schedule is None else schedule
    num_steps = schedule.alphas_cumprod.numel()
    if not 0 <= step < num_steps:
        raise ValueError(f"step must be in [0, {num_steps}), got {step}")
    alpha_bar = schedule.alphas_cumprod[step].item()
    noise = torch.randn(pixels01.shape, generator=generator, device=pixels01.device, dtype=pixels01.dtype)
    noisy = alpha_bar**0.5 * pixels01 + (1 - alpha_bar) ** 0.5 * noise
    if legacy_wrap:
        return _uint8_wraparound(noisy)
    return noisy.clamp(0, 1) if clamp else noisy


def corrupt_image(
    image: Image.Image, step: int = 500, seed: int = 0, legacy_wrap: bool = False
) -> Image.Image:
    """Return a diffusion-noised copy of a PIL image, deterministic per ``seed`` (before processor)."""
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    pixels01 = pil_to_tensor(image).to(torch.float32) / 255
    generator = torch.Generator().manual_seed(seed)
    noisy = corrupt_pixels(pixels01, step=step, generator=generator, legacy_wrap=legacy_wrap)
    return to_pil_image(torch.round(noisy * 255).to(torch.uint8), mode=image.mode)


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
        self,
        pixel_values: Tensor,
        image_processor: Any,
        ids: Sequence[str],
        epoch: int,
        image_grid_thw: Tensor | None = None,
    ) -> Tensor:
        """Noise normalised `pixel_values` [R, ..., C, H, W] (or Qwen2-VL's flattened patches with their
        `image_grid_thw`); image r shows the record `ids[r % len(ids)]`. All-zero padding tiles stay zero."""
        if image_grid_thw is not None:
            return self._corrupt_patches(pixel_values, image_processor, ids, epoch, image_grid_thw)
        if pixel_values.dim() < 3:
            raise ValueError(
                f"pixel_values of shape {tuple(pixel_values.shape)}: only [..., C, H, W] layouts are supported"
            )
        mean, std, scale = _normalisation(image_processor, pixel_values.shape[-3])
        mean, std = (t.view(-1, 1, 1).to(pixel_values.device) for t in (mean, std))
        pixels01 = (pixel_values.float() * std + mean) / scale
        noisy = torch.stack(self._corrupt_images(list(pixels01), ids, epoch))
        noisy = ((noisy * scale - mean) / std).to(pixel_values.dtype)
        if pixel_values.dim() > 4:  # Idefics3 / LLaVA-NeXT pad a row's tiles with zeros: keep them padding
            padding = (pixel_values == 0).flatten(2).all(dim=2)
            noisy[padding] = 0
        return noisy

    def _corrupt_patches(
        self, pixel_values: Tensor, image_processor: Any, ids: Sequence[str], epoch: int, grid: Tensor
    ) -> Tensor:
        """Qwen2-VL: each row is one (C, T, P, P) patch; the T frames of an image are copies, noised alike."""
        frames = int(getattr(image_processor, "temporal_patch_size", 1))
        mean, std, scale = _normalisation(image_processor, 3)
        mean, std = (t.view(1, -1, 1, 1).to(pixel_values.device) for t in (mean, std))
        patches = pixel_values.float().view(pixel_values.shape[0], mean.shape[1], frames, -1)
        pixels01 = (patches[:, :, :1] * std + mean) / scale
        images = list(pixels01.split(grid.prod(dim=-1).tolist()))
        noisy = torch.cat(self._corrupt_images(images, ids, epoch)).expand_as(patches)
        return ((noisy * scale - mean) / std).reshape(pixel_values.shape).to(pixel_values.dtype)

    def _corrupt_images(self, images: list[Tensor], ids: Sequence[str], epoch: int) -> list[Tensor]:
        """Noise [0, 1] images; every copy of a record's image gets the same draw."""
        if len(images) % len(ids):
            raise ValueError(f"{len(images)} images do not split evenly over {len(ids)} records")
        noisy: list[Tensor] = list(images)
        for index, record_id in enumerate(ids):
            generator = torch.Generator().manual_seed(sample_seed(self.settings.seed, record_id, epoch))
            clean = images[index]
            corrupted = corrupt_pixels(
                clean.cpu(), self.settings.step, generator, self.settings.clamp, self.schedule
            ).to(clean.device)
            noisy[index :: len(ids)] = [corrupted] * len(noisy[index :: len(ids)])
        return noisy

    def corrupt_batch(self, batch: dict[str, Any], image_processor: Any, epoch: int) -> dict[str, Any]:
        """A shallow copy of `batch` whose `pixel_values` are corrupted (one draw per record)."""
        with torch.no_grad():
            pixels = self.corrupt_pixel_values(
                batch["pixel_values"], image_processor, batch["ids"], epoch, batch.get("image_grid_thw")
            )
        return {**batch, "pixel_values": pixels}
