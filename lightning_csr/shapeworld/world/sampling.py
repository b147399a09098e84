"""Deterministic scene sampling that follows the world's language priors, with disjoint splits."""

from __future__ import annotations

import hashlib
import math
import random

from lightning_csr.shapeworld.world.settings import Scene, SceneObject, WorldSettings

SPLIT_BUCKETS: dict[str, range] = {"train": range(0, 8), "val": range(8, 9), "test": range(9, 10)}
_MAX_ATTEMPTS = 1000


def split_of(scene: Scene) -> str:
    """The split a scene's content belongs to (a stable hash of its objects), so splits never share scenes."""
    bucket = int(hashlib.sha1(repr(scene.signature()).encode()).hexdigest(), 16) % 10
    return next(name for name, buckets in SPLIT_BUCKETS.items() if bucket in buckets)


def object_side(world: WorldSettings, size: str) -> int:
    """Side of an object's bbox in pixels."""
    return max(4, round(world.cell_size * (0.8 if size == "large" else 0.5)))


def _sample_shapes(world: WorldSettings, rng: random.Random) -> list[str]:
    """Draw shapes by frequency, adding co-occurring partners with their probability."""
    target = rng.randint(world.min_objects, world.max_objects)
    weights = [world.shape_weight(s) for s in world.shapes]
    shapes: list[str] = []
    while len(shapes) < target:
        shape = rng.choices(world.shapes, weights=weights)[0]
        shapes.append(shape)
        for partner, probability in world.co_occurrence.get(shape, {}).items():
            # a partner may push the scene past its drawn size, up to max_objects
            if rng.random() < probability and partner not in shapes and len(shapes) < world.max_objects:
                shapes.append(partner)
    return shapes


def sample_colour(world: WorldSettings, shape: str, rng: random.Random) -> str:
    """Draw a colour: the shape's preferred colours, the rest uniform."""
    preferred = world.colour_preferences.get(shape, {})
    rest = (1.0 - sum(preferred.values())) / len(world.colours)
    weights = [preferred.get(c, 0.0) + rest for c in world.colours]
    return rng.choices(world.colours, weights=weights)[0]


def _grid_boxes(
    world: WorldSettings, sides: list[int], rng: random.Random
) -> list[tuple[int, int, int, int]]:
    """One distinct cell per object, the bbox placed at random inside it."""
    cells = rng.sample(range(world.grid * world.grid), len(sides))
    boxes = []
    size = world.cell_size
    for cell, side in zip(cells, sides, strict=True):
        row, col = divmod(cell, world.grid)
        lefts = (math.ceil(col * size), max(math.ceil(col * size), math.floor((col + 1) * size) - side))
        tops = (math.ceil(row * size), max(math.ceil(row * size), math.floor((row + 1) * size) - side))
        left, top = rng.randint(*lefts), rng.randint(*tops)
        boxes.append((left, top, left + side, top + side))
    return boxes


def _free_boxes(
    world: WorldSettings, sides: list[int], rng: random.Random
) -> list[tuple[int, int, int, int]]:
    """Non-overlapping bboxes anywhere (1 px gap); falls back to grid cells when crowded."""
    for _ in range(50):
        boxes: list[tuple[int, int, int, int]] = []
        for side in sides:
            for _ in range(100):
                left = rng.randint(0, world.image_size - side)
                top = rng.randint(0, world.image_size - side)
                box = (left, top, left + side, top + side)
                if all(_gap(box, other) for other in boxes):
                    boxes.append(box)
                    break
        if len(boxes) == len(sides):
            return boxes
    return _grid_boxes(world, sides, rng)


def _gap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """True when two bboxes are separated by at least one pixel."""
    return a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]


def sample_scene(world: WorldSettings, rng: random.Random, scene_id: str) -> Scene:
    """Draw one scene from the world's priors."""
    shapes = _sample_shapes(world, rng)
    colours = [sample_colour(world, s, rng) for s in shapes]
    sizes = [rng.choice(world.sizes) for _ in shapes]
    sides = [object_side(world, size) for size in sizes]
    place = _grid_boxes if world.placement == "grid" else _free_boxes
    boxes = place(world, sides, rng)
    objects = []
    for shape, colour, size, box in zip(shapes, colours, sizes, boxes, strict=True):
        centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        cell = (
            min(world.grid - 1, int(centre_y // world.cell_size)),
            min(world.grid - 1, int(centre_x // world.cell_size)),
        )
        objects.append(SceneObject(shape, colour, size, cell, box))
    objects.sort(key=lambda o: (o.cell, o.bbox[1], o.bbox[0]))
    return Scene(scene_id, tuple(objects))


def generate_scenes(world: WorldSettings, n: int, seed: int = 0, split: str = "train") -> list[Scene]:
    """n scenes for a split; same (world, seed, split) gives the same scenes; splits never share content."""
    if split not in SPLIT_BUCKETS:
        raise ValueError(f"split must be one of {list(SPLIT_BUCKETS)}, got {split!r}")
    rng = random.Random(f"shapeworld:{seed}:{split}")
    scenes = []
    for index in range(n):
        for _ in range(_MAX_ATTEMPTS):
            scene = sample_scene(world, rng, f"{split}-{index:06d}")
            if split_of(scene) == split:
                scenes.append(scene)
                break
        else:
            raise RuntimeError(
                f"could not draw a {split!r} scene in {_MAX_ATTEMPTS} tries: the world is too small"
            )
    return scenes
