"""ShapeWorld configuration and scene records: what a world may contain and what one scene holds."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning_csr.data.records import atomic_write_text
from lightning_csr.shapeworld.world.scene import Scene, SceneObject

__all__ = ["PALETTE", "SHAPES", "Scene", "SceneObject", "WorldSettings"]

SHAPES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "ring",
    "bar",
    "diamond",
    "heart",
    "hexagon",
)
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 70, 220),
    "yellow": (235, 200, 0),
    "purple": (140, 40, 180),
    "orange": (245, 120, 0),
    "cyan": (0, 180, 200),
}
SIZES: tuple[str, ...] = ("small", "large")
PLACEMENTS: tuple[str, ...] = ("grid", "free")
BACKGROUNDS: tuple[str, ...] = ("plain", "textured")

# Language priors: the statistics a model can lean on instead of looking at the image.
DEFAULT_CO_OCCURRENCE: dict[str, dict[str, float]] = {
    "star": {"circle": 0.5},
    "cross": {"ring": 0.5},
    "triangle": {"square": 0.5},
    "heart": {"diamond": 0.5},
    "bar": {"hexagon": 0.5},
    "diamond": {"star": 0.5},
}
DEFAULT_COLOUR_PREFERENCES: dict[str, dict[str, float]] = {
    "star": {"yellow": 0.8},
    "heart": {"red": 0.8},
    "ring": {"blue": 0.6},
    "bar": {"green": 0.6},
}
DEFAULT_SHAPE_FREQUENCY: dict[str, float] = {"circle": 3.0, "square": 2.5, "triangle": 2.0, "star": 1.5}


def _restrict(priors: dict[str, dict[str, float]], keys: tuple[str, ...], values: tuple[str, ...]) -> dict:
    """Keep only the default priors whose shapes and targets exist in this world."""
    kept = {
        k: {v: p for v, p in targets.items() if v in values} for k, targets in priors.items() if k in keys
    }
    return {k: targets for k, targets in kept.items() if targets}


@dataclass
class WorldSettings:
    """Everything that defines a ShapeWorld: vocabulary, layout, rendering and language priors."""

    image_size: int = 64
    min_objects: int = 1
    max_objects: int = 4
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(PALETTE)
    sizes: tuple[str, ...] = SIZES
    placement: str = "grid"
    grid: int = 4
    background: str = "plain"
    # shape -> {partner: probability that the partner is added to a scene containing shape}
    co_occurrence: dict[str, dict[str, float]] | None = None
    # shape -> {colour: probability}; the remaining mass is spread uniformly over all colours
    colour_preferences: dict[str, dict[str, float]] | None = None
    # shape -> sampling weight (unlisted shapes weigh 1.0)
    shape_frequency: dict[str, float] | None = None

    def __post_init__(self) -> None:
        self.shapes = tuple(self.shapes)
        self.colours = tuple(self.colours)
        self.sizes = tuple(self.sizes)
        if self.co_occurrence is None:
            self.co_occurrence = _restrict(DEFAULT_CO_OCCURRENCE, self.shapes, self.shapes)
        if self.colour_preferences is None:
            self.colour_preferences = _restrict(DEFAULT_COLOUR_PREFERENCES, self.shapes, self.colours)
        if self.shape_frequency is None:
            self.shape_frequency = {k: v for k, v in DEFAULT_SHAPE_FREQUENCY.items() if k in self.shapes}
        self._validate()

    def _validate(self) -> None:
        """Raise ValueError naming the offending field."""

        def fail(name: str, message: str) -> None:
            raise ValueError(f"WorldSettings.{name}: {message}")

        if self.image_size < 16:
            fail("image_size", f"must be >= 16, got {self.image_size}")
        if not self.shapes:
            fail("shapes", "needs at least one shape")
        for name, values, known in (
            ("shapes", self.shapes, SHAPES),
            ("colours", self.colours, tuple(PALETTE)),
            ("sizes", self.sizes, SIZES),
        ):
            if not values:
                fail(name, "must not be empty")
            unknown = [v for v in values if v not in known]
            if unknown:
                fail(name, f"unknown value(s) {unknown}; known: {list(known)}")
            if len(set(values)) != len(values):
                fail(name, f"contains duplicates: {list(values)}")
        if self.placement not in PLACEMENTS:
            fail("placement", f"must be one of {PLACEMENTS}, got {self.placement!r}")
        if self.background not in BACKGROUNDS:
            fail("background", f"must be one of {BACKGROUNDS}, got {self.background!r}")
        if self.grid < 1:
            fail("grid", f"must be >= 1, got {self.grid}")
        if self.min_objects < 1:
            fail("min_objects", f"must be >= 1, got {self.min_objects}")
        if self.max_objects < self.min_objects:
            fail("max_objects", f"must be >= min_objects ({self.min_objects}), got {self.max_objects}")
        if self.max_objects > self.grid * self.grid:
            fail(
                "max_objects",
                f"{self.max_objects} exceeds the {self.grid}x{self.grid}={self.grid**2} grid cells",
            )
        self._validate_priors(fail)

    def _validate_priors(self, fail: Any) -> None:
        """Check that every prior names known shapes/colours and holds valid probabilities."""
        for name, table, targets in (
            ("co_occurrence", self.co_occurrence, self.shapes),
            ("colour_preferences", self.colour_preferences, self.colours),
        ):
            for shape, row in table.items():
                if shape not in self.shapes:
                    fail(name, f"unknown shape {shape!r}; world shapes: {list(self.shapes)}")
                for target, p in row.items():
                    if target not in targets:
                        fail(name, f"{shape!r} -> unknown {target!r}; allowed: {list(targets)}")
                    if not 0.0 <= p <= 1.0:
                        fail(name, f"{shape!r} -> {target!r} probability {p} not in [0, 1]")
            if name == "colour_preferences":
                for shape, row in table.items():
                    if sum(row.values()) > 1.0 + 1e-9:
                        fail(name, f"{shape!r} probabilities sum to {sum(row.values())} > 1")
        for shape, weight in self.shape_frequency.items():
            if shape not in self.shapes:
                fail("shape_frequency", f"unknown shape {shape!r}; world shapes: {list(self.shapes)}")
            if weight <= 0:
                fail("shape_frequency", f"{shape!r} weight must be > 0, got {weight}")

    @property
    def cell_size(self) -> float:
        """Side of one grid cell in pixels."""
        return self.image_size / self.grid

    def shape_weight(self, shape: str) -> float:
        """Prior sampling weight of a shape."""
        return float(self.shape_frequency.get(shape, 1.0))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        data = dataclasses.asdict(self)
        for key in ("shapes", "colours", "sizes"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorldSettings:
        """Inverse of to_dict; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"WorldSettings: unknown field(s) {unknown}")
        return cls(**data)

    def save(self, path: str | Path) -> None:
        """Write the config as JSON atomically."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path) -> WorldSettings:
        """Read a config written by save."""
        return cls.from_dict(json.loads(Path(path).read_text()))
