"""Stage workers: every `prepare` stage that trains or evaluates a model runs in a spawned process.

Each worker starts with the pinned numeric code paths in its environment (`kernel_pin`), checks them and
runs its stages on one torch thread, so neither the CPU type nor `--threads` (how many workers run at
once) changes a model. Stages are sent to the workers as soon as the stages they need have finished.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning_csr.shapeworld.build.kernel_pin import pinned_environment
from lightning_csr.shapeworld.build.stages import PrepareError, StageRunner

POLL_SECONDS = 1.0


@dataclass
class StageJob:
    """A model stage: its name (a Builder method), what its stamp hashes, what it writes, what it waits for."""

    name: str
    inputs: Any
    outputs: list[str]
    after: tuple[str, ...] = ()


def _reset_random_state() -> None:
    """The same global generators for every stage, whichever worker runs it and whatever ran there before."""
    import numpy
    import torch

    random.seed(0)
    numpy.random.seed(0)
    torch.manual_seed(0)


def _serve(worker: int, out: str, world: Any, builder_args: tuple, jobs: Any, results: Any) -> None:
    """A stage worker's body: check the pin, then run each job it is sent (None ends) and report it."""
    try:
        from transformers.utils import logging as hf_logging

        from lightning_csr.commands.third_party_notes import quiet_third_party_notes
        from lightning_csr.evaluation.progress import QueueProgress
        from lightning_csr.shapeworld.build.kernel_pin import check_pinned, kernel_record

        quiet_third_party_notes()  # a spawned process starts with the default warning filters
        hf_logging.disable_progress_bar()  # its steps show in the main process's bars
        record = kernel_record(check_pinned())
    except Exception as err:  # the pin did not take: no stage may run here
        results.put(("failed", worker, None, f"{type(err).__name__}: {err}"))
        return
    builder_class, settings = builder_args
    builder = builder_class(Path(out), world, settings, QueueProgress(results, worker))
    runner = StageRunner(out, clean=False)  # a worker must not touch the main runner's leftovers
    while (job := jobs.get()) is not None:
        body = getattr(builder, job.name)

        def recorded(temp: Path, body: Callable = body) -> dict[str, Any]:
            return {**(body(temp) or {}), "numerics": record}

        try:
            _reset_random_state()
            runner.run(job.name, job.inputs, job.outputs, recorded)
            results.put(("finished", worker, job.name, None))
        except BaseException as err:  # KeyboardInterrupt too: the stage's temp dir is gone, report it
            traceback.print_exc()
            results.put(("failed", worker, job.name, f"{type(err).__name__}: {err}"))


class StageWorkers:
    """Up to `limit` stage workers, started when a stage is ready and none is idle; `run` drives them."""

    def __init__(
        self, out: Path, world: Any, settings: Any, builder_class: type, progress: Any, limit: int
    ) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.results = self.context.Queue()
        self.spawn_args = (str(out), world, (builder_class, settings))
        self.progress, self.limit = progress, max(1, limit)
        self.processes: list[Any] = []
        self.job_queues: list[Any] = []
        self.busy: dict[int, StageJob] = {}
        self.bars: dict[tuple[int, int], Callable[[int], None]] = {}

    def start(self) -> int:
        """Start one more worker with the pinned environment; returns its index."""
        jobs = self.context.Queue()
        worker = len(self.processes)
        process = self.context.Process(
            target=_serve, args=(worker, *self.spawn_args, jobs, self.results), daemon=True
        )
        with pinned_environment():
            process.start()
        self.processes.append(process)
        self.job_queues.append(jobs)
        return worker

    def _idle_worker(self) -> int | None:
        idle = [w for w, p in enumerate(self.processes) if w not in self.busy and p.is_alive()]
        if idle:
            return idle[0]
        return self.start() if len(self.processes) < self.limit else None

    def _dispatch(self, pending: list[StageJob], done: dict[str, Any]) -> None:
        """Send every pending job whose prerequisites are done to a worker, while workers are available."""
        for job in [j for j in pending if all(a in done for a in j.after)]:
            worker = self._idle_worker()
            if worker is None:
                return
            pending.remove(job)
            self.busy[worker] = job
            self.job_queues[worker].put(job)
            self.progress.event(job.name, f"started (stage worker {worker + 1})")

    def _next_message(self) -> tuple[str, int, Any, Any]:
        """The next worker message; a dead busy worker, or none left alive, becomes a `failed` message."""
        while True:
            try:
                return self.results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                dead = [w for w, p in enumerate(self.processes) if not p.is_alive()]
                for worker in dead:
                    if worker in self.busy or len(dead) == len(self.processes):
                        code = self.processes[worker].exitcode
                        name = self.busy[worker].name if worker in self.busy else None
                        return "failed", worker, name, f"the worker process exited with code {code}"

    def run(self, jobs: list[StageJob], runner: StageRunner) -> dict[str, dict[str, Any]]:
        """Run the jobs that are not up to date, each once its `after` stages are done; returns the stamps."""
        stamps: dict[str, dict[str, Any]] = {}
        pending = []
        for job in jobs:
            stamp = runner.skip_if_current(job.name, job.inputs, job.outputs)
            if stamp is None:
                pending.append(job)
            else:
                stamps[job.name] = stamp
        failures: list[str] = []
        finished = False
        try:
            while pending or self.busy:
                if not failures:
                    self._dispatch(pending, stamps)
                if not self.busy:  # what is left waits for a failed stage, or every worker is gone
                    while not failures:
                        self._handle(self._next_message(), runner, stamps, failures)
                    break
                self._handle(self._next_message(), runner, stamps, failures)
            finished = True
        finally:
            self.close(graceful=finished)
        if failures:
            raise PrepareError(
                f"{'; '.join(failures).rstrip('.')}. Its traceback, if any, is printed above. Rerun `prepare`: "
                "finished stages are kept."
            )
        return stamps

    def _handle(self, message: tuple, runner: StageRunner, stamps: dict, failures: list[str]) -> None:
        """Draw a progress message, or record a finished stage (its stamp) or a failed one (the reason)."""
        kind, worker, name, payload = message
        if kind == "add":
            description, total = payload
            self.bars[worker, name] = self.progress.add(description, total)
        elif kind == "advance":
            self.bars[worker, name](payload)
        elif kind == "finished":
            job = self.busy.pop(worker)
            stamps[name] = runner.adopt(name, job.inputs, job.outputs)
        else:  # a worker whose pin failed may have had no stage yet
            job = self.busy.pop(worker, None)
            stage = f"stage {job.name!r}" if job else "a stage worker"
            failures.append(f"{stage} failed in stage worker {worker + 1}: {payload}")

    def close(self, graceful: bool = True) -> None:
        """Stop the workers: ask them to end (graceful), else terminate them."""
        for jobs, process in zip(self.job_queues, self.processes, strict=True):
            if graceful and process.is_alive():
                jobs.put(None)
        for process in self.processes:
            process.join(timeout=30 if graceful else 0)
            if process.is_alive():
                process.terminate()
                process.join()
