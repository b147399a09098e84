"""Batched greedy generation whose answers are stored as each batch finishes and reused on a rerun."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from lightning_csr.backbones.base import Backbone
from lightning_csr.distributed import Ranks, map_by_batches
from lightning_csr.evaluation.answers_store import AnswerStore
from lightning_csr.generation.greedy import generate_answers

ProgressFactory = Callable[[str, int], Callable[[int], None]]


@dataclass(frozen=True)
class Request:
    """One generation: a stable key, the user prompt, the image (or its file) and the token budget."""

    key: str
    prompt: str
    image: Image.Image | Path
    max_new_tokens: int


def open_image(image: Image.Image | Path) -> Image.Image:
    """The image itself, or the file read as RGB (a damaged file is an error naming it)."""
    if isinstance(image, Image.Image):
        return image
    try:
        with Image.open(image) as opened:
            return opened.convert("RGB")
    except OSError as error:
        raise ValueError(f"cannot read image {image}: {error}") from error


class CachedGenerator:
    """Answers requests with the model, skipping those whose answer (same prompt and budget) is stored.

    `progress(description, total)` returns a callable advanced by the number of answers finished.
    `generated` and `reused` count answers over the generator's lifetime.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        backbone: Backbone,
        store: AnswerStore | None = None,
        batch_size: int = 16,
        progress: ProgressFactory | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.backbone, self.store = model, backbone, store
        self.batch_size, self.progress = batch_size, progress
        self.generated = self.reused = 0

    def __call__(self, requests: Sequence[Request], description: str = "generating") -> dict[str, str]:
        """Answer text by request key.

        On several ranks each answers every `world_size`-th batch of what no rank has stored (each rank keeps
        its own store) and every rank returns all the answers.
        """
        unique = list({r.key: r for r in requests}.values())
        stored: dict = {}
        for part in Ranks().gather(self.store.load() if self.store is not None else {}):
            stored.update(part)
        answers: dict[str, str] = {}
        for request in unique:
            record = stored.get(request.key)
            if record and (record.get("prompt"), record.get("max_new_tokens")) == (
                request.prompt,
                request.max_new_tokens,
            ):
                answers[request.key] = record["answer"]
        todo = [r for r in unique if r.key not in answers]
        self.reused += len(unique) - len(todo)
        advance = self.progress(description, len(todo)) if self.progress and todo else None
        for budget in sorted({r.max_new_tokens for r in todo}):
            group = [r for r in todo if r.max_new_tokens == budget]

            def answer(positions: list[int], group=group, budget=budget) -> list[str]:
                return self._answer([group[i] for i in positions], budget, advance)

            replies = map_by_batches(answer, len(group), self.batch_size)
            answers.update((r.key, text) for r, text in zip(group, replies, strict=True))
        return answers

    def _answer(
        self, requests: list[Request], budget: int, advance: Callable[[int], None] | None
    ) -> list[str]:
        """Answers to `requests`, batch by batch, each batch stored as it finishes."""
        replies: list[str] = []
        for start in range(0, len(requests), self.batch_size):
            batch = requests[start : start + self.batch_size]
            texts = generate_answers(
                self.model,
                self.backbone,
                [open_image(r.image) for r in batch],
                [r.prompt for r in batch],
                batch_size=len(batch),
                max_new_tokens=budget,
            )
            for request, text in zip(batch, texts, strict=True):
                if self.store is not None:
                    record = {"prompt": request.prompt, "max_new_tokens": budget, "answer": text}
                    self.store.append(request.key, record)
            replies.extend(texts)
            self.generated += len(batch)
            if advance is not None:
                advance(len(batch))
        return replies
