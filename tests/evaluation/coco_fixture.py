"""A tiny COCO-style annotation set (instances, captions, image files) written into a temp folder."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

CATEGORIES = [
    "person",
    "dog",
    "cat",
    "dining table",
    "teddy bear",
    "bear",
    "car",
    "hot dog",
    "chair",
    "bicycle",
]
IMAGE_OBJECTS: dict[int, list[str]] = {
    1: ["person", "dog", "dining table", "chair"],
    2: ["person", "car", "bicycle"],
    3: ["cat", "teddy bear", "chair", "dining table"],
    4: ["person", "dog", "car", "chair"],
    5: ["dog", "car"],
    6: ["person", "bicycle", "car"],
    7: ["cat", "teddy bear", "bicycle"],
    8: ["cat", "teddy bear", "bicycle"],
}
CAPTIONS = {1: "A man and his puppy at a table.", 2: "A woman rides a bike next to a motorbike."}
NO_FILE = 6  # this image is annotated but has no file on disk


def file_name(image_id: int) -> str:
    """COCO val2014 file name of an image id."""
    return f"COCO_val2014_{image_id:012d}.jpg"


def write_coco_fixture(root: Path) -> tuple[Path, Path, Path]:
    """Write instances, captions and images under `root`; return their paths."""
    category_ids = {name: index + 1 for index, name in enumerate(CATEGORIES)}
    instances = {
        "images": [{"id": image, "file_name": file_name(image)} for image in IMAGE_OBJECTS],
        "categories": [{"id": index, "name": name} for name, index in category_ids.items()],
        "annotations": [
            {"id": len(objects) * 100 + position, "image_id": image, "category_id": category_ids[name]}
            for image, objects in IMAGE_OBJECTS.items()
            for position, name in enumerate(objects)
        ],
    }
    captions = {"annotations": [{"image_id": image, "caption": text} for image, text in CAPTIONS.items()]}
    instances_path, captions_path, images_dir = (
        root / "instances.json",
        root / "captions.json",
        root / "images",
    )
    instances_path.write_text(json.dumps(instances))
    captions_path.write_text(json.dumps(captions))
    images_dir.mkdir()
    for image in IMAGE_OBJECTS:
        if image != NO_FILE:
            Image.new("RGB", (4, 4)).save(images_dir / file_name(image))
    return instances_path, captions_path, images_dir
