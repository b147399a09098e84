"""Load COCO instance (and caption) annotations into per-image ground-truth object sets."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning_csr.evaluation.coco.vocabularies import DEFAULT_CHAIR_VOCABULARY, chair_vocabulary
from lightning_csr.evaluation.json_files import read_json


@dataclass
class CocoGroundTruth:
    """Objects present in each image, the category vocabulary and the image file names.

    `vocabulary` names the CHAIR vocabulary (`coco/vocabularies.py`) that mapped names and captions.
    """

    objects: dict[int, set[str]]
    categories: list[str]
    file_names: dict[int, str] = field(default_factory=dict)
    instance_objects: dict[int, set[str]] = field(default_factory=dict)
    vocabulary: str = DEFAULT_CHAIR_VOCABULARY


@dataclass
class ImageSelection:
    """Images chosen for a benchmark run, and the ids skipped because their file is missing."""

    paths: dict[int, Path]
    skipped: list[int]


def _require(entries: Any, key: str, path: Path, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Return `entries` (the list under `key`), checking each entry has `keys`."""
    if not isinstance(entries, list):
        raise ValueError(f"{path}: not COCO-shaped: key {key!r} must be a list")
    for index, entry in enumerate(entries):
        missing = [name for name in keys if not isinstance(entry, dict) or name not in entry]
        if missing:
            raise ValueError(f"{path}: not COCO-shaped: {key}[{index}] is missing key {missing[0]!r}")
    return entries


def _section(data: dict[str, Any], key: str, path: Path, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    if key not in data:
        raise ValueError(f"{path}: not COCO-shaped: missing key {key!r}")
    return _require(data[key], key, path, keys)


def load_coco_ground_truth(
    instances_path: str | Path,
    captions_path: str | Path | None = None,
    vocabulary: str = DEFAULT_CHAIR_VOCABULARY,
) -> CocoGroundTruth:
    """Ground truth per image from `instances_val2014.json`, optionally widened by the objects the image's
    reference captions mention; names and captions go through the named CHAIR vocabulary."""
    instances_path = Path(instances_path)
    matcher = chair_vocabulary(vocabulary)
    data = read_json(instances_path, "COCO instances")
    categories = _section(data, "categories", instances_path, ("id", "name"))
    names: dict[Any, str] = {}
    for index, entry in enumerate(categories):
        try:
            names[entry["id"]] = matcher.node(entry["name"])
        except ValueError as error:
            raise ValueError(f"{instances_path}: categories[{index}]: {error}") from error
    images = _section(data, "images", instances_path, ("id",))
    annotations = _section(data, "annotations", instances_path, ("image_id", "category_id"))
    objects: dict[int, set[str]] = {entry["id"]: set() for entry in images}
    for index, entry in enumerate(annotations):
        if entry["category_id"] not in names:
            raise ValueError(
                f"{instances_path}: annotations[{index}] has unknown category_id {entry['category_id']!r}"
            )
        objects.setdefault(entry["image_id"], set()).add(names[entry["category_id"]])
    instance_objects = {image: set(found) for image, found in objects.items()}
    if captions_path is not None:
        captions_path = Path(captions_path)
        captions = read_json(captions_path, "COCO captions")
        for entry in _section(captions, "annotations", captions_path, ("image_id", "caption")):
            found = {node for _, node in matcher.mentions(entry["caption"])}
            objects.setdefault(entry["image_id"], set()).update(found)
    return CocoGroundTruth(
        objects=objects,
        categories=sorted(set(names.values())),
        file_names={entry["id"]: entry["file_name"] for entry in images if "file_name" in entry},
        instance_objects=instance_objects,
        vocabulary=vocabulary,
    )


def sample_image_ids(image_ids: Iterable[int], count: int, seed: int) -> list[int]:
    """A seeded sample of `count` ids (all of them, sorted, when there are fewer)."""
    ordered = sorted(image_ids)
    if count >= len(ordered):
        return ordered
    return sorted(random.Random(seed).sample(ordered, count))


def locate_images(truth: CocoGroundTruth, image_ids: list[int], images_dir: str | Path) -> ImageSelection:
    """Resolve image files; ids without a file (or file name) are skipped and listed, not dropped silently."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"images directory not found: {images_dir}")
    paths: dict[int, Path] = {}
    skipped: list[int] = []
    for image_id in image_ids:
        name = truth.file_names.get(image_id)
        if name is not None and (images_dir / name).is_file():
            paths[image_id] = images_dir / name
        else:
            skipped.append(image_id)
    return ImageSelection(paths=paths, skipped=skipped)
