"""Dense supervised pre-training of the tiny vision tower: every patch predicts the shape and colour under it.

A from-scratch LLaVA learns language long before it learns to see: trained end to end by SFT, the tiny model
wrote the same caption for every image. Real LLaVA starts from a pretrained CLIP; ShapeWorld's stand-in is a
vision transformer taught, per patch, which shape and colour cover the patch centre (exact labels from the
scene ground truth). Its patch features then feed the VLM's projector, and the CLIP starts from it too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import CLIPVisionConfig, CLIPVisionModel

from lightning_csr.shapeworld.world.scene import Scene
from lightning_csr.shapeworld.world.settings import WorldSettings


@dataclass
class VisionPretrainSettings:
    """How long the dense pre-training runs (a held-out slice of the scenes measures patch accuracy)."""

    max_steps: int = 3000
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.01
    held_out: int = 200
    seed: int = 0


def patch_labels(scene: Scene, world: WorldSettings, patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per patch (row-major): shape index + 1 and colour index + 1 of the object whose bbox overlaps the patch
    most, if that overlap covers at least a quarter of the patch or of the object; else 0 (background)."""
    side = world.image_size // patch_size
    shapes = torch.zeros(side * side, dtype=torch.long)
    colours = torch.zeros(side * side, dtype=torch.long)
    best = torch.zeros(side * side)
    for obj in scene.objects:
        left, top, right, bottom = obj.bbox
        area = max((right - left) * (bottom - top), 1)
        for row in range(side):
            for col in range(side):
                x0, y0 = col * patch_size, row * patch_size
                overlap_x = min(right, x0 + patch_size) - max(left, x0)
                overlap_y = min(bottom, y0 + patch_size) - max(top, y0)
                overlap = max(overlap_x, 0) * max(overlap_y, 0)
                index = row * side + col
                if overlap * 4 >= min(area, patch_size * patch_size) and overlap > best[index]:
                    best[index] = overlap
                    shapes[index] = world.shapes.index(obj.shape) + 1
                    colours[index] = world.colours.index(obj.colour) + 1
    return shapes, colours


def pretrain_vision(
    config: CLIPVisionConfig,
    pixels: torch.Tensor,
    scenes: Sequence[Scene],
    world: WorldSettings,
    settings: VisionPretrainSettings,
    progress: Any = None,
) -> tuple[CLIPVisionModel, dict[str, Any]]:
    """Train a `CLIPVisionModel` with linear shape/colour heads on its patch tokens; returns it and its accuracy."""
    torch.manual_seed(settings.seed)
    labels = [patch_labels(scene, world, config.patch_size) for scene in scenes]
    shape_y = torch.stack([s for s, _ in labels])
    colour_y = torch.stack([c for _, c in labels])
    model = CLIPVisionModel(config)
    shape_head = torch.nn.Linear(config.hidden_size, len(world.shapes) + 1)
    colour_head = torch.nn.Linear(config.hidden_size, len(world.colours) + 1)
    params = [*model.parameters(), *shape_head.parameters(), *colour_head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, settings.lr, total_steps=max(settings.max_steps, 1)
    )
    train = max(len(scenes) - settings.held_out, 1)
    generator = torch.Generator().manual_seed(settings.seed)
    start = time.perf_counter()
    model.train()
    for _ in range(settings.max_steps):
        index = torch.randint(0, train, (min(settings.batch_size, train),), generator=generator)
        tokens = model(pixel_values=pixels[index]).last_hidden_state[:, 1:]
        loss = torch.nn.functional.cross_entropy(shape_head(tokens).flatten(0, 1), shape_y[index].flatten())
        loss = loss + torch.nn.functional.cross_entropy(
            colour_head(tokens).flatten(0, 1), colour_y[index].flatten()
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if progress is not None:
            progress(1)
    model.eval()
    with torch.no_grad():
        held = slice(train, len(scenes))
        tokens = model(pixel_values=pixels[held]).last_hidden_state[:, 1:]
        covered = shape_y[held] > 0
        shape_acc = (shape_head(tokens).argmax(-1) == shape_y[held])[covered].float().mean()
        colour_acc = (colour_head(tokens).argmax(-1) == colour_y[held])[covered].float().mean()
    info = {
        "train_seconds": round(time.perf_counter() - start, 1),
        "final_loss": float(loss.detach()) if settings.max_steps else None,
        "held_out_patch_shape_accuracy": round(float(shape_acc), 4),
        "held_out_patch_colour_accuracy": round(float(colour_acc), 4),
    }
    return model, info
