"""Checks of the diffusion-noise corruption used by POVID and TPO."""

import pytest
import torch
from PIL import Image

from lightning_csr.modules.components.image_corruption import corrupt_image, corrupt_pixels, noise_schedule


def test_schedule_values_at_step_500() -> None:
    schedule = noise_schedule()
    assert schedule.betas.shape == (1000,)
    assert schedule.betas[0].item() == pytest.approx(
        1e-5 + torch.sigmoid(torch.tensor(-6.0)).item() * 4.99e-3
    )
    alpha_bar = schedule.alphas_cumprod[500]
    assert alpha_bar.sqrt().item() == pytest.approx(0.863, abs=5e-4)  # signal kept at t = 500
    assert (1 - alpha_bar).sqrt().item() == pytest.approx(0.505, abs=5e-4)  # noise std at t = 500
    assert torch.all(schedule.alphas_cumprod[1:] < schedule.alphas_cumprod[:-1])


def test_zero_noise_schedule_is_identity() -> None:
    schedule = noise_schedule(num_steps=10, beta_start=0.0, beta_end=0.0, kind="linear")
    pixels = torch.rand(3, 4, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(corrupt_pixels(pixels, step=5, schedule=schedule), pixels)


def test_corrupt_pixels_is_clamped_and_seeded() -> None:
    pixels = torch.full((3, 32, 32), 0.5)
    first = corrupt_pixels(pixels, generator=torch.Generator().manual_seed(1))
    again = corrupt_pixels(pixels, generator=torch.Generator().manual_seed(1))
    other = corrupt_pixels(pixels, generator=torch.Generator().manual_seed(2))
    assert first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, again) and not torch.equal(first, other)
    unclamped = corrupt_pixels(pixels, generator=torch.Generator().manual_seed(1), clamp=False)
    # mean of the unclamped output = sqrt(ᾱ)·0.5 ≈ 0.4315; its std ≈ sqrt(1 - ᾱ) ≈ 0.505
    assert unclamped.mean().item() == pytest.approx(0.4315, abs=0.02)
    assert unclamped.std().item() == pytest.approx(0.505, abs=0.02)


def test_legacy_wrap_reproduces_uint8_overflow() -> None:
    schedule = noise_schedule(num_steps=2, beta_start=0.0, beta_end=0.0, kind="linear")  # x_t = x_0
    pixels = torch.tensor([-0.2, 1.2, 0.5])
    wrapped = corrupt_pixels(pixels, step=1, schedule=schedule, legacy_wrap=True)
    # -0.2·255 = -51 → 205; 1.2·255 = 306 → 50; 0.5·255 = 127.5 → 127
    assert torch.allclose(wrapped * 255, torch.tensor([205.0, 50.0, 127.0]))


def test_corrupt_image_deterministic_per_seed() -> None:
    image = Image.new("RGB", (16, 12), color=(128, 64, 200))
    first, again, other = (
        corrupt_image(image, seed=3),
        corrupt_image(image, seed=3),
        corrupt_image(image, seed=4),
    )
    assert first.size == image.size and first.mode == "RGB"
    assert first.tobytes() == again.tobytes() and first.tobytes() != other.tobytes()
    assert first.tobytes() != image.tobytes()


def test_errors() -> None:
    with pytest.raises(ValueError, match="known kinds are"):
        noise_schedule(kind="cosine")
    with pytest.raises(ValueError, match=r"step must be in \[0, 1000\)"):
        corrupt_pixels(torch.zeros(3), step=1000)
