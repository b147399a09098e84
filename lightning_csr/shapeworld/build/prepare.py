"""`lightning-csr shapeworld prepare`: its stages in order, resumable and hashed, and the card (bodies: `builder.py`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lightning_csr.data.records import atomic_write_text
from lightning_csr.shapeworld import WorldSettings
from lightning_csr.shapeworld.build.builder import Builder
from lightning_csr.shapeworld.build.card import card_markdown
from lightning_csr.shapeworld.build.kernel_pin import pin_key
from lightning_csr.shapeworld.build.settings import PrepareSettings
from lightning_csr.shapeworld.build.stages import PrepareError, StageRunner, stage_key
from lightning_csr.shapeworld.build.usability import usability
from lightning_csr.shapeworld.build.workers import StageJob, StageWorkers

STAGE_ORDER = (
    "scenes", "sft", "processor", "vision", "base_model", "clip", "evaluate_base", "evaluate_clip"
)  # fmt: skip


def model_jobs(settings: PrepareSettings, after_scenes: str, sft: str, processor: str) -> list[StageJob]:
    """The stages that train or evaluate a model (run in stage workers), given the hashes they build on.

    Their stamps hash the kernel pin too: a model built on other numeric code paths is another model.
    """
    s, pin = settings.to_dict(), pin_key()
    vision_inputs = [processor, s["clip_model"], s["vision"], pin]
    vision = stage_key("vision", vision_inputs)
    base_inputs = [sft, processor, vision, s["vlm"], s["sft"], pin]
    clip_inputs = [processor, vision, s["clip_model"], s["clip"], pin]
    eval_inputs = [after_scenes, s["eval_batch_size"], s["max_new_tokens"], pin]
    return [
        StageJob("vision", vision_inputs, ["vision"]),
        StageJob("base_model", base_inputs, ["base_model"], ("vision",)),
        StageJob("clip", clip_inputs, ["clip"], ("vision",)),
        StageJob(
            "evaluate_base",
            [stage_key("base_model", base_inputs), *eval_inputs],
            ["metrics/base.json", "metrics/base_outputs.jsonl"],
            ("base_model",),
        ),
        StageJob(
            "evaluate_clip",
            [stage_key("clip", clip_inputs), *eval_inputs],
            ["metrics/clip.json"],
            ("clip",),
        ),
    ]


def prepare(
    out: str | Path,
    settings: PrepareSettings | None = None,
    world: WorldSettings | None = None,
    progress: Any = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Build everything under `out`, skipping up-to-date stages, with up to `workers` stage workers at
    once (the models do not depend on it); returns {stage: stamp} plus ran/skipped."""
    from lightning_csr.evaluation.progress import NullProgress

    out = Path(out)
    settings = settings or PrepareSettings()
    world = world or WorldSettings()
    progress = progress or NullProgress()
    runner = StageRunner(out, progress.event)
    build = Builder(out, world, settings, progress)
    s = settings.to_dict()
    start = time.perf_counter()
    stamps: dict[str, Any] = {}

    counts = {k: s[k] for k in ("n_sft_scenes", "n_prompt_scenes", "n_val_scenes", "n_test_scenes", "seed")}
    scenes_inputs = {"world": world.to_dict(), **counts}
    after_scenes = stage_key("scenes", scenes_inputs)
    sft_inputs = [after_scenes, s["caption_prior_noise"], s["caption_prior_template"]]
    processor_inputs = [after_scenes, s["clip_model"]["patch_size"]]
    jobs = model_jobs(
        settings, after_scenes, stage_key("sft", sft_inputs), stage_key("processor", processor_inputs)
    )
    stage_workers = StageWorkers(out, world, settings, Builder, progress, workers)
    try:
        if any(runner.current_stamp(job.name, job.inputs, job.outputs) is None for job in jobs):
            stage_workers.start()  # its imports overlap the stages below
        outputs = ["world.json", "statistics.json", "scenes", "images"]
        stamps["scenes"] = runner.run("scenes", scenes_inputs, outputs, build.scenes)
        stamps["sft"] = runner.run("sft", sft_inputs, ["sft", "prompts"], build.sft)
        stamps["processor"] = runner.run("processor", processor_inputs, ["processor"], build.processor)
    except BaseException:
        stage_workers.close(graceful=False)
        raise
    stamps.update(stage_workers.run(jobs, runner))
    stamps = {name: stamps[name] for name in STAGE_ORDER}
    if runner.ran or not (out / "card.md").exists():
        seconds = time.perf_counter() - start
        card = card_markdown(world, settings, stamps, seconds, runner, workers)
        atomic_write_text(out / "card.md", card)
    return {
        "stamps": stamps,
        "usability": usability(stamps),
        "ran": runner.ran,
        "skipped": runner.skipped,
        "seconds": time.perf_counter() - start,
    }


__all__ = ["PrepareError", "prepare"]
