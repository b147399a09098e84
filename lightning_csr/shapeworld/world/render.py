"""Render a Scene to a deterministic RGB PIL image (no anti-aliasing, so object colours stay exact)."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable

from PIL import Image, ImageDraw

from lightning_csr.shapeworld.world.settings import PALETTE, Scene, SceneObject, WorldSettings

BACKGROUND_GREY = 228
Box = tuple[float, float, float, float]


def _regular_polygon(
    box: Box, corners: int, rotation: float, inner: float | None = None
) -> list[tuple[float, float]]:
    """Vertices of a regular polygon (or a star when inner radius ratio is given) filling box."""
    left, top, right, bottom = box
    cx, cy, radius = (left + right) / 2, (top + bottom) / 2, (right - left) / 2
    points = []
    steps = corners * 2 if inner else corners
    for i in range(steps):
        angle = rotation + 2 * math.pi * i / steps
        r = radius * (inner if inner and i % 2 else 1.0)
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return points


def _circle(draw: ImageDraw.ImageDraw, box: Box, fill: tuple[int, int, int]) -> None:
    draw.ellipse(box, fill=fill)


def _square(draw: ImageDraw.ImageDraw, box: Box, fill: tuple[int, int, int]) -> None:
    inset = (box[2] - box[0]) * 0.08
    draw.rectangle((box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset), fill=fill)


def _triangle(draw: ImageDraw.ImageDraw, box: Box, fill: tuple[int, int, int]) -> None:
    left, top, right, bottom = box
    draw.polygon([((left + right) / 2, top), (right, bottom), (left, bottom)], fill=fill)


def _star(draw: ImageDraw.ImageDraw, box: Box, fill: tuple[int, int, int]) -> None:
    draw.polygon(_regular_polygon(box, 5, -math.pi / 2, inner=0.42), fill=fill)


def _cross(draw: ImageDraw.ImageDraw, box: Box, fill: tuple[int, int, int]) -> None:
    left, top, right, bottom = box
    third = (right - left) / 3
    draw.rectangle((left + third, top, right - third, bottom), fill=fill)
    draw.rectangle((left, top + third, right, bottom - third), fill=fill)


def _ring(draw: ImageDraw.ImageDraw, box: Box, fill: tuple[int, int, int]) -> None:
    draw.ellipse(box, outline=fill, width=max(2, round((box[2] - box[0]) / 5)))


def _bar(draw: ImageDraw.ImageDraw, box: Box, fill: tuple[int, int, int]) -> None:
    left, top, right, bottom = box
    height = (bottom - top) * 0.36
    middle = (top + bottom) / 2
    draw.rectangle((left, middle - height / 2, right, middle + height / 2), fill=fill)


def _diamond(draw: ImageDraw.ImageDraw, box: Box, fill: tuple[int, int, int]) -> None:
    draw.polygon(_regular_polygon(box, 4, -math.pi / 2), fill=fill)


def _heart(draw: ImageDraw.ImageDraw, box: Box, fill: tuple[int, int, int]) -> None:
    left, top, right, bottom = box
    width = right - left
    lobe = width / 2
    draw.ellipse((left, top, left + lobe, top + lobe), fill=fill)
    draw.ellipse((right - lobe, top, right, top + lobe), fill=fill)
    draw.polygon(
        [(left, top + lobe * 0.55), (right, top + lobe * 0.55), ((left + right) / 2, bottom)], fill=fill
    )


def _hexagon(draw: ImageDraw.ImageDraw, box: Box, fill: tuple[int, int, int]) -> None:
    draw.polygon(_regular_polygon(box, 6, 0.0), fill=fill)


SHAPE_PAINTERS: dict[str, Callable[[ImageDraw.ImageDraw, Box, tuple[int, int, int]], None]] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "star": _star,
    "cross": _cross,
    "ring": _ring,
    "bar": _bar,
    "diamond": _diamond,
    "heart": _heart,
    "hexagon": _hexagon,
}


def _background(scene: Scene, world: WorldSettings) -> Image.Image:
    """Plain light grey, or light grey with seeded noise and faint diagonal stripes."""
    size = world.image_size
    if world.background == "plain":
        return Image.new("RGB", (size, size), (BACKGROUND_GREY,) * 3)
    rng = random.Random(hashlib.sha1(scene.id.encode()).digest())
    noise = Image.frombytes("L", (size, size), rng.randbytes(size * size))
    noise = noise.point(lambda v: BACKGROUND_GREY - 12 + v * 20 // 255)
    draw = ImageDraw.Draw(noise)
    period, phase = rng.randint(6, 10), rng.randint(0, 9)
    for offset in range(-size, size, period):
        draw.line((offset + phase, 0, offset + phase + size, size), fill=BACKGROUND_GREY + 12)
    return Image.merge("RGB", (noise, noise, noise))


def draw_object(draw: ImageDraw.ImageDraw, obj: SceneObject) -> None:
    """Paint one object inside its bbox (PIL coordinates are inclusive, bbox right/bottom exclusive)."""
    left, top, right, bottom = obj.bbox
    SHAPE_PAINTERS[obj.shape](draw, (left, top, right - 1, bottom - 1), PALETTE[obj.colour])


def render_scene(scene: Scene, world: WorldSettings) -> Image.Image:
    """The scene as an RGB image of world.image_size pixels; identical input gives identical bytes."""
    image = _background(scene, world)
    draw = ImageDraw.Draw(image)
    for obj in scene.objects:
        draw_object(draw, obj)
    return image
