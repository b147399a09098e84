"""Reading a prepared ShapeWorld back: scenes, images and the training-set statistics."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from PIL import Image

from lightning_csr.shapeworld import Scene, WorldSettings
from lightning_csr.shapeworld.build.sft_data import image_path
from lightning_csr.shapeworld.world.tasks import co_occurrence_counts, shape_counts

SPLITS = ("train", "val", "test")
DEFAULT_DATA_DIR = "data/shapeworld"  # where the commands read and write a prepared ShapeWorld


def read_scenes(root: Path, split: str) -> list[Scene]:
    """Scenes of one split from `<root>/scenes/<split>.jsonl`."""
    path = root / "scenes" / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: run `lightning-csr shapeworld prepare --out {root}` first"
        )
    return [Scene.from_dict(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def load_images(root: Path, split: str, scenes: list[Scene]) -> list[Image.Image]:
    """The rendered images of scenes, read from `<root>/images/<split>/`."""
    images = []
    for scene in scenes:
        with Image.open(root / image_path(split, scene.id)) as image:
            images.append(image.convert("RGB"))
    return images


def world_statistics(world: WorldSettings, scenes: list[Scene]) -> dict[str, Any]:
    """Shape, colour and pair frequencies and object-count histogram of the training scenes."""
    pairs = co_occurrence_counts(scenes)
    return {
        "n_scenes": len(scenes),
        "shape_scenes": dict(shape_counts(scenes).most_common()),
        "colour_objects": dict(Counter(o.colour for s in scenes for o in s.objects).most_common()),
        "objects_per_scene": dict(sorted(Counter(len(s.objects) for s in scenes).items())),
        "co_occurrence": {f"{a}+{b}": n for (a, b), n in pairs.most_common() if a < b},
    }
