"""Run the `clip` stage of `prepare` in a helper process while the main process trains the base VLM."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lightning_csr.data.shapeworld.stages import PrepareError


def _clip_stage(out: str, world: Any, settings: Any, inputs: Any, progress: Any) -> None:
    """Helper-process body: the same `clip` stage `prepare` would run (on one torch thread, as everywhere)."""
    from transformers.utils import logging as hf_logging

    from lightning_csr.data.shapeworld.prepare import Builder
    from lightning_csr.data.shapeworld.report import QueueProgress
    from lightning_csr.data.shapeworld.stages import StageRunner

    hf_logging.disable_progress_bar()  # its steps show in the main process's bar
    runner = StageRunner(out, clean=False)
    runner.run("clip", inputs, ["clip"], Builder(Path(out), world, settings, QueueProgress(progress)).clip)


class BackgroundStage:
    """Starts the `clip` stage in a spawned process; `join()` waits and raises PrepareError if it failed.

    The helper writes its outputs and stamp exactly as the stage does in-process (temp dir, then rename), so
    a later `prepare` skips it, and a killed helper leaves nothing half-written.
    """

    def __init__(self, out: Path, world: Any, settings: Any, inputs: Any, progress: Any) -> None:
        progress.event("clip", "started (helper process)")
        context = multiprocessing.get_context("spawn")
        self.queue = context.Queue()
        self.task = progress.add("CLIP: contrastive steps (helper process)", settings.clip.max_steps)
        self.process = context.Process(
            target=_clip_stage, args=(str(out), world, settings, inputs, self.queue), daemon=True
        )
        self.process.start()
        self.listener = threading.Thread(target=self._forward_progress, daemon=True)
        self.listener.start()

    def _forward_progress(self) -> None:
        """Advance the main process's progress bar with the helper's step counts (None ends)."""
        while (steps := self.queue.get()) is not None:
            self.task(steps)

    @contextlib.contextmanager
    def sharing_cores(self) -> Iterator[Any]:
        """Give the helper a core: the main process runs on one fewer torch thread until the helper exits.

        Yields `reclaim`, to be called from the main thread now and then (each training step): it restores
        the threads once the helper is done (torch's thread count is per calling thread under OpenMP).
        """
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, min(threads, (os.cpu_count() or 2) - 1)))

        def reclaim() -> None:
            if torch.get_num_threads() != threads and not self.process.is_alive():
                torch.set_num_threads(threads)

        try:
            yield reclaim
        finally:
            torch.set_num_threads(threads)

    def join(self) -> None:
        self.process.join()
        self.queue.put(None)
        self.listener.join(timeout=5)
        if self.process.exitcode != 0:
            raise PrepareError(
                f"the CLIP stage failed in its helper process (exit code {self.process.exitcode}); its error "
                "is printed above. Rerun `prepare`: finished stages are kept. Set "
                "PrepareSettings.parallel_clip=False to run it in the main process."
            )
