"""Prompt files for on-policy generation: JSONL lines `{id, image, prompt}` (image relative to a root).

The released CSR prompt file (`CSR-Prompt-Dataset-12k.json`, a JSON list of `{id, image, input}` with an
`<image>` tag in `input`) is read as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning_csr.data.hf_datasets import is_dataset_source, iter_source
from lightning_csr.data.records import RecordError, strip_image_tag


@dataclass(frozen=True)
class PromptRecord:
    """An image and the raw user question asked about it."""

    id: str
    image: str
    prompt: str


def parse_prompt(obj: Any, where: str, index: int = 0) -> PromptRecord:
    """A prompt of a JSON object (`prompt`, or the released file's `input` with its `<image>` tag)."""
    if isinstance(obj, dict) and "prompt" not in obj and isinstance(obj.get("input"), str):
        obj = {**obj, "prompt": strip_image_tag(obj["input"])}
    if not isinstance(obj, dict):
        raise RecordError(f"{where}: expected a JSON object")
    for key in ("id", "image", "prompt"):
        if not isinstance(obj.get(key), str | int) or not str(obj[key]).strip():
            raise RecordError(f"{where}: missing or empty field {key!r}")
    return PromptRecord(str(obj["id"]), str(obj["image"]), str(obj["prompt"]))


def read_prompts(path: str | Path, limit: int | None = None) -> list[PromptRecord]:
    """Read a prompts file or a Hugging Face dataset (`hf_datasets`); errors name the file and line (or row)."""
    path = Path(path)
    if not path.is_file() and not is_dataset_source(path):
        raise FileNotFoundError(f"prompts file not found: {path}")
    prompts: list[PromptRecord] = []
    seen: set[str] = set()
    for where, index, obj in iter_source(path):
        record = parse_prompt(obj, where, index)
        if record.id in seen:
            raise RecordError(f"{where}: duplicate id {record.id!r}")
        seen.add(record.id)
        prompts.append(record)
        if limit is not None and len(prompts) >= limit:
            break
    if not prompts:
        raise RecordError(f"{path}: no prompts")
    return prompts
