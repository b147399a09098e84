"""Prompt files for on-policy generation: JSONL lines `{id, image, prompt}` (image relative to a root)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lightning_csr.data.records import RecordError


@dataclass(frozen=True)
class PromptRecord:
    """An image and the raw user question asked about it."""

    id: str
    image: str
    prompt: str


def read_prompts(path: str | Path, limit: int | None = None) -> list[PromptRecord]:
    """Read a prompts file; bad lines raise errors naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prompts file not found: {path}")
    prompts: list[PromptRecord] = []
    seen: set[str] = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise RecordError(f"{path}:{lineno}: malformed JSON line ({err.msg})") from None
        for key in ("id", "image", "prompt"):
            if not isinstance(obj.get(key), str | int) or not str(obj[key]).strip():
                raise RecordError(f"{path}:{lineno}: missing or empty field {key!r}")
        record = PromptRecord(str(obj["id"]), str(obj["image"]), str(obj["prompt"]))
        if record.id in seen:
            raise RecordError(f"{path}:{lineno}: duplicate id {record.id!r}")
        seen.add(record.id)
        prompts.append(record)
        if limit is not None and len(prompts) >= limit:
            break
    if not prompts:
        raise RecordError(f"{path}: no prompts")
    return prompts
