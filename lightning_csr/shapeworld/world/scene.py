"""Scene records: the objects one ShapeWorld image holds, with their ground-truth attributes and boxes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SceneObject:
    """One object: its attributes, its grid cell (row, col) and its bbox (left, top, right, bottom), right/bottom exclusive."""

    shape: str
    colour: str
    size: str
    cell: tuple[int, int]
    bbox: tuple[int, int, int, int]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "shape": self.shape,
            "colour": self.colour,
            "size": self.size,
            "cell": list(self.cell),
            "bbox": list(self.bbox),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SceneObject:
        """Inverse of to_dict."""
        return cls(data["shape"], data["colour"], data["size"], tuple(data["cell"]), tuple(data["bbox"]))


@dataclass(frozen=True)
class Scene:
    """A scene: an id and its objects in reading order (row, then column)."""

    id: str
    objects: tuple[SceneObject, ...]

    @property
    def shapes(self) -> set[str]:
        """The set of shape names present."""
        return {obj.shape for obj in self.objects}

    def signature(self) -> tuple:
        """Content key: equal for scenes with the same objects in the same cells."""
        return tuple(sorted((o.shape, o.colour, o.size, o.cell) for o in self.objects))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"id": self.id, "objects": [obj.to_dict() for obj in self.objects]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        """Inverse of to_dict."""
        return cls(data["id"], tuple(SceneObject.from_dict(o) for o in data["objects"]))
