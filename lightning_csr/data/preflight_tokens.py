"""The processor-side pre-flight check: each record's token length, and image tokens that match its image.

Images are stand-ins of the real size (read from the header), so no pixel is decoded: a processor's image-token
count depends on the image size only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image

from lightning_csr.backbones.base import Backbone
from lightning_csr.backbones.batches import ImageTokenMismatchError
from lightning_csr.data.preflight_report import Problem

Collate = Callable[[Sequence[dict[str, Any]]], dict[str, Any]]


def processor_settings(backbone: Backbone) -> dict[str, str]:
    """What a token verdict depends on: the backbone family and its processor's source."""
    return {"backbone": type(backbone).__name__, "processor": str(backbone.processor_id)}


def token_check(collate: Collate, batch_size: int = 32):
    """A `TokenCheck` over `collate` (a DataModule's collator, which checks image tokens of what it builds)."""

    def check(items: list[tuple[str, Any, tuple[int, int]]]) -> tuple[list[Problem], dict[str, int]]:
        problems: list[Problem] = []
        lengths: dict[str, int] = {}
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            try:
                lengths.update(_lengths(collate, chunk))
            except ValueError:  # the processor or the token check refused a record: find which, one at a time
                for item in chunk:
                    try:
                        lengths.update(_lengths(collate, [item]))
                    except ValueError as err:
                        problems.append(Problem(item[0], item[1].id, "prompt", _mismatch(err)))
        return problems, lengths

    return check


def _lengths(collate: Collate, chunk: list[tuple[str, Any, tuple[int, int]]]) -> dict[str, int]:
    """Longest row of each record in tokens (a preference record has a chosen and a rejected row)."""
    items = [{"record": record, "image": Image.new("RGB", size)} for _, record, size in chunk]
    tokens = collate(items)["attention_mask"].sum(dim=1)
    per_record = tokens.view(-1, len(chunk)).max(dim=0).values.tolist()
    return {where: int(n) for (where, _, _), n in zip(chunk, per_record, strict=True)}


def _mismatch(err: ValueError) -> str:
    message = str(err)
    if isinstance(err, ImageTokenMismatchError) and "disagree" in message:
        message = "image tokens disagree with the image's features: " + message.split(": ", 1)[-1]
    return f"{message} (does the text hold an image placeholder such as <image>?)"


def prompt_collator(backbone: Backbone) -> Collate:
    """Generation prompts as the policy sees them, their image tokens checked (for prompt files)."""

    def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        batch = backbone.prompt_batch(
            [item["image"] for item in items], [item["record"].prompt for item in items]
        )
        backbone.check_image_tokens(batch, [item["record"].id for item in items])
        return batch

    return collate
