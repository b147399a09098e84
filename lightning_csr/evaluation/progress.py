"""Progress displays: rich bars (a terminal), nothing, or a queue a stage worker's parent draws from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class NullProgress:
    """Progress sink that shows nothing (also as a context manager, in place of `RichProgress`)."""

    def __enter__(self) -> NullProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def add(self, description: str, total: int) -> Callable[[int], None]:
        return lambda n: None

    def event(self, stage: str, what: str) -> None:
        return None


class QueueProgress(NullProgress):
    """Progress of a stage worker: its bars and their advances go to a queue the main process draws from."""

    def __init__(self, queue: Any, worker: int) -> None:
        self.queue, self.worker, self.bars = queue, worker, 0

    def add(self, description: str, total: int) -> Callable[[int], None]:
        key, self.bars = self.bars, self.bars + 1
        self.queue.put(("add", self.worker, key, (description, total)))
        return lambda n: self.queue.put(("advance", self.worker, key, n))


class RichProgress(NullProgress):
    """Rich progress bars, one per long step, and a line per stage event."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )

    def __enter__(self) -> RichProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def add(self, description: str, total: int) -> Callable[[int], None]:
        task = self.bars.add_task(description, total=total)
        return lambda n: self.bars.advance(task, n)

    def event(self, stage: str, what: str) -> None:
        style = {"skipped": "dim", "started": "bold", "finished": "green"}.get(what, "")
        self.console.print(f"[{style}]{stage}: {what}[/{style}]" if style else f"{stage}: {what}")
