"""Diffusion-noise image corruption shared by POVID and TPO (povid_tpo.md §1).

Forward diffusion at a fixed step t of a T-step schedule:
``x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 − ᾱ_t)·ε``, ε ~ N(0, I), on pixels in [0, 1], with
``β = sigmoid(linspace(−6, 6, T))·(β_end − β_start) + β_start`` and ``ᾱ = cumprod(1 − β)``.
Both released repos use T = 1000, β ∈ [1e-5, 5e-3] and t = 500 (sqrt(ᾱ) ≈ 0.863, sqrt(1 − ᾱ) ≈ 0.505),
applied to the PIL image before the processor resizes and normalises it.
"""

from __future__ import annotations

from typing import NamedTuple

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
