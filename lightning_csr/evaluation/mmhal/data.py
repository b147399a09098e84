"""Read MMHal-Bench's `response_template.json` and find each item's image file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning_csr.evaluation.json_files import read_json

MMHAL_NUM_ITEMS = 96
REQUIRED_KEYS: tuple[str, ...] = ("question_type", "question", "gt_answer", "image_content")
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png")


@dataclass
class MMHalItem:
    """One MMHal-Bench question; `index` is its position in the template file."""

    index: int
    question_type: str
    question: str
    gt_answer: str
    image_content: list[str]
    question_topic: str = ""
    image_id: str = ""
    image_src: str = ""
    model_answer: str = ""
    image_path: Path | None = None


@dataclass
class MMHalData:
    """The benchmark items, and the indices skipped because their image file is missing."""

    items: list[MMHalItem]
    skipped: list[int] = field(default_factory=list)


def _item(entry: Any, index: int, path: Path) -> MMHalItem:
    """Validate one template entry."""
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: item {index} is not a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in entry]
    if missing:
        raise ValueError(f"{path}: item {index} is missing key {missing[0]!r}")
    content = entry["image_content"]
    return MMHalItem(
        index=index,
        question_type=str(entry["question_type"]),
        question=str(entry["question"]),
        gt_answer=str(entry["gt_answer"]),
        image_content=[str(name) for name in content] if isinstance(content, list) else [str(content)],
        question_topic=str(entry.get("question_topic", "")),
        image_id=str(entry.get("image_id", "")),
        image_src=str(entry.get("image_src", "")),
        model_answer=str(entry.get("model_answer") or ""),
    )


def image_candidates(item: MMHalItem) -> list[str]:
    """File names the item's image may have locally: the URL's base name, then the image id."""
    names = [item.image_src.rstrip("/").rsplit("/", 1)[-1]] if item.image_src else []
    names += [item.image_id + suffix for suffix in IMAGE_SUFFIXES] if item.image_id else []
    return names


def load_mmhal(template_path: str | Path, images_dir: str | Path | None = None) -> MMHalData:
    """Items from `response_template.json`; with `images_dir`, attach image paths and list missing ones."""
    template_path = Path(template_path)
    entries = read_json(template_path, "MMHal-Bench template", list)
    items = [_item(entry, index, template_path) for index, entry in enumerate(entries)]
    if images_dir is None:
        return MMHalData(items)
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"MMHal-Bench images directory not found: {images_dir}")
    skipped: list[int] = []
    for item in items:
        found = [images_dir / name for name in image_candidates(item) if (images_dir / name).is_file()]
        if found:
            item.image_path = found[0]
        else:
            skipped.append(item.index)
    return MMHalData(items, skipped)


def missing_image_message(data: MMHalData) -> str:
    """A readable line naming the items whose image file was not found."""
    names = [data.items[index].image_src or data.items[index].image_id for index in data.skipped]
    return f"{len(names)} MMHal-Bench images not found (first: {names[:5]})"
