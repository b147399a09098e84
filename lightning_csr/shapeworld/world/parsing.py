"""Read shapes and attributes back out of free text (captions, answers) for ShapeWorld metrics."""

from __future__ import annotations

import re

from lightning_csr.shapeworld.world.settings import WorldSettings

# surface word (singular or plural) -> canonical shape
SHAPE_SYNONYMS: dict[str, str] = {
    "circle": "circle",
    "disc": "circle",
    "disk": "circle",
    "dot": "circle",
    "ball": "circle",
    "square": "square",
    "triangle": "triangle",
    "star": "star",
    "cross": "cross",
    "ring": "ring",
    "donut": "ring",
    "doughnut": "ring",
    "annulus": "ring",
    "bar": "bar",
    "rectangle": "bar",
    "stripe": "bar",
    "diamond": "diamond",
    "rhombus": "diamond",
    "heart": "heart",
    "hexagon": "hexagon",
}
COLOUR_SYNONYMS: dict[str, str] = {"violet": "purple", "turquoise": "cyan", "teal": "cyan", "gold": "yellow"}
SIZE_SYNONYMS: dict[str, str] = {
    "small": "small",
    "little": "small",
    "tiny": "small",
    "large": "large",
    "big": "large",
}
_WORD = re.compile(r"[a-z]+")


def words(text: str) -> list[str]:
    """Lower-cased alphabetic words of a text."""
    return _WORD.findall(text.lower())


def singular(word: str) -> str:
    """Strip an English plural ending when the stem is a known shape word."""
    for suffix in ("es", "s"):
        if word.endswith(suffix) and word[: -len(suffix)] in SHAPE_SYNONYMS:
            return word[: -len(suffix)]
    return word


def shape_of(word: str, world: WorldSettings) -> str | None:
    """Canonical shape a word names in this world, else None."""
    shape = SHAPE_SYNONYMS.get(singular(word))
    return shape if shape in world.shapes else None


def colour_of(word: str, world: WorldSettings) -> str | None:
    """Canonical colour a word names in this world (accepts 'color' spellings), else None."""
    colour = COLOUR_SYNONYMS.get(word, word)
    return colour if colour in world.colours else None


def mentioned_shapes(text: str, world: WorldSettings) -> set[str]:
    """Shapes a text mentions, synonyms and plurals mapped to canonical names."""
    return {shape for word in words(text) if (shape := shape_of(word, world)) is not None}


def mentioned_attributes(text: str, world: WorldSettings) -> set[tuple[str, str, str]]:
    """(shape, attribute kind, value) triples for adjectives right before a shape ("large red star")."""
    found: set[tuple[str, str, str]] = set()
    tokens = words(text)
    for index, word in enumerate(tokens):
        shape = shape_of(word, world)
        if shape is None:
            continue
        for adjective in reversed(tokens[max(0, index - 3) : index]):
            if (colour := colour_of(adjective, world)) is not None:
                found.add((shape, "colour", colour))
            elif adjective in SIZE_SYNONYMS and SIZE_SYNONYMS[adjective] in world.sizes:
                found.add((shape, "size", SIZE_SYNONYMS[adjective]))
            else:
                break
    return found


def parse_attribute(text: str, kind: str, world: WorldSettings) -> str | None:
    """The single colour or size value an answer gives; None when it gives none or several."""
    values = set()
    for word in words(text):
        value = colour_of(word, world) if kind == "colour" else SIZE_SYNONYMS.get(word)
        if value is not None and (kind == "colour" or value in world.sizes):
            values.add(value)
    return values.pop() if len(values) == 1 else None
