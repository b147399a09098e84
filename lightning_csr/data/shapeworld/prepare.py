"""`lightning-csr shapeworld prepare`: scenes, SFT data, processor, base VLM, CLIP, their metrics and a card."""

from __future__ import annotations

import contextlib
import functools
import json
import time
from pathlib import Path
from typing import Any

from lightning_csr.data.records import atomic_write_text
from lightning_csr.data.sft import write_sft_records
from lightning_csr.data.shapeworld import WorldConfig
from lightning_csr.data.shapeworld.files import load_images, read_scenes, world_statistics
from lightning_csr.data.shapeworld.parallel import BackgroundStage
from lightning_csr.data.shapeworld.report import card_markdown
from lightning_csr.data.shapeworld.sampling import generate_scenes
from lightning_csr.data.shapeworld.settings import PrepareSettings
from lightning_csr.data.shapeworld.sft_data import image_path, sft_records
from lightning_csr.data.shapeworld.stages import PrepareError, StageRunner, write_json
from lightning_csr.data.shapeworld.tasks import (
    DESCRIPTION_PROMPTS,
    world_corpus,
)


def _one_thread(stage: Any) -> Any:
    """A stage method run on one torch thread: the vision tower's convolution gradients sum in a
    thread-dependent order, so only one thread gives the same vision tower and CLIP (and so the same base VLM)
    on every machine, in the main process or the CLIP helper. The base VLM's SFT (vision frozen) comes out
    the same on one or two threads."""

    @functools.wraps(stage)
    def run(self: Any, temp: Path) -> Any:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return stage(self, temp)
        finally:
            torch.set_num_threads(threads)

    return run


class Builder:
    """The stage bodies of `prepare`, sharing the output root, the world and the settings."""

    def __init__(self, out: Path, world: WorldConfig, settings: PrepareSettings, progress: Any) -> None:
        self.out, self.world, self.settings, self.progress = out, world, settings, progress
        self.step_hook: Any = None  # called after every base-VLM training step (see `prepare`)

    def scenes(self, temp: Path) -> dict[str, Any]:
        s = self.settings
        counts = {"train": s.n_sft_scenes + s.n_prompt_scenes, "val": s.n_val_scenes, "test": s.n_test_scenes}
        task = self.progress.add("scenes: render", sum(counts.values()))
        for split, n in counts.items():
            scenes = generate_scenes(self.world, n, seed=s.seed, split=split)
            lines = "".join(json.dumps(scene.to_dict()) + "\n" for scene in scenes)
            atomic_write_text(temp / "scenes" / f"{split}.jsonl", lines)
            (temp / "images" / split).mkdir(parents=True)
            from lightning_csr.data.shapeworld.render import render_scene

            for scene in scenes:
                render_scene(scene, self.world).save(temp / image_path(split, scene.id))
                task(1)
            if split == "train":
                write_json(temp / "statistics.json", world_statistics(self.world, scenes))
        self.world.save(temp / "world.json")
        return {"scenes": counts}

    def sft(self, temp: Path) -> dict[str, Any]:
        s = self.settings
        train = read_scenes(self.out, "train")
        sft_train, held_out = train[: s.n_sft_scenes], train[s.n_sft_scenes :]
        records = {
            "train": sft_records(
                sft_train,
                self.world,
                "train",
                seed=s.seed,
                caption_prior_noise=s.caption_prior_noise,
                prior_template=s.caption_prior_template,
            ),
            "val": sft_records(read_scenes(self.out, "val"), self.world, "val", seed=s.seed),
        }
        for split, rows in records.items():
            write_sft_records(temp / "sft" / f"{split}.jsonl", rows)
        prompts = [
            {
                "id": scene.id,
                "image": image_path("train", scene.id),
                "prompt": DESCRIPTION_PROMPTS[i % len(DESCRIPTION_PROMPTS)],
            }
            for i, scene in enumerate(held_out)
        ]
        atomic_write_text(temp / "prompts" / "train.jsonl", "".join(json.dumps(p) + "\n" for p in prompts))
        return {"sft_records": {k: len(v) for k, v in records.items()}, "prompts": len(prompts)}

    def processor(self, temp: Path) -> dict[str, Any]:
        from lightning_csr.data.shapeworld.tokenizer import build_processor, processor_spec

        train = read_scenes(self.out, "train")[: self.settings.n_sft_scenes]
        corpus = world_corpus(self.world, train, self.settings.seed)
        patch_size = self.settings.clip_model.patch_size
        processor = build_processor(self.world, corpus, temp / "processor", patch_size=patch_size)
        return {"spec": processor_spec(processor).__dict__}

    def base_model(self, temp: Path) -> dict[str, Any]:
        from transformers import AutoProcessor

        from lightning_csr.data.shapeworld.tokenizer import processor_spec
        from lightning_csr.data.shapeworld.vlm import base_vlm_config, train_base_vlm

        spec = processor_spec(AutoProcessor.from_pretrained(str(self.out / "processor")))
        config = base_vlm_config(spec, self.settings.vlm, self.settings.clip_model)
        task = self.progress.add("base VLM: SFT steps", self.settings.sft.max_steps)
        callback = _StepCallback(task, self.step_hook)
        return train_base_vlm(
            config,
            self.out / "processor",
            self.out,
            temp / "base_model",
            self.settings.sft,
            [callback],
            vision_init=self.out / "vision",
        )

    @_one_thread
    def vision(self, temp: Path) -> dict[str, Any]:
        from transformers import AutoProcessor, CLIPVisionConfig

        from lightning_csr.data.shapeworld.vision_pretrain import pretrain_vision

        size = self.settings.clip_model
        config = CLIPVisionConfig(
            hidden_size=size.vision_hidden,
            intermediate_size=size.vision_intermediate,
            num_hidden_layers=size.vision_layers,
            num_attention_heads=size.heads,
            image_size=self.world.image_size,
            patch_size=size.patch_size,
        )
        train = read_scenes(self.out, "train")[: self.settings.n_sft_scenes]
        image_processor = AutoProcessor.from_pretrained(str(self.out / "processor")).image_processor
        pixels = image_processor(load_images(self.out, "train", train), return_tensors="pt")["pixel_values"]
        task = self.progress.add("vision tower: dense patch steps", self.settings.vision.max_steps)
        model, info = pretrain_vision(config, pixels, train, self.world, self.settings.vision, task)
        model.save_pretrained(str(temp / "vision"))
        return info

    @_one_thread
    def clip(self, temp: Path) -> dict[str, Any]:
        import torch
        from transformers import AutoProcessor, CLIPModel, CLIPVisionModel

        from lightning_csr.data.shapeworld.clip import (
            build_clip_processor,
            clip_config,
            save_clip,
            train_clip,
        )
        from lightning_csr.data.shapeworld.vlm import count_parameters

        tokenizer = AutoProcessor.from_pretrained(str(self.out / "processor")).tokenizer
        processor = build_clip_processor(tokenizer, self.world, temp / "clip")
        torch.manual_seed(self.settings.clip.seed)  # the text tower's initial weights (a process's default
        # torch seed is random, so without this two builds, e.g. in a helper process, gave different CLIPs)
        model = CLIPModel(clip_config(processor, self.world, self.settings.clip_model))
        model.vision_model.load_state_dict(
            CLIPVisionModel.from_pretrained(str(self.out / "vision")).state_dict()
        )
        train = read_scenes(self.out, "train")[: self.settings.n_sft_scenes]
        task = self.progress.add("CLIP: contrastive steps", self.settings.clip.max_steps)
        info = train_clip(
            model, processor, train, load_images(self.out, "train", train), self.settings.clip, task
        )
        info["parameters"] = count_parameters(model)
        save_clip(model, processor, temp / "clip", info)
        return info

    def evaluate_base(self, temp: Path) -> dict[str, Any]:
        from lightning_csr.data.shapeworld.evaluate import evaluate_vlm_dir

        result = evaluate_vlm_dir(
            self.out / "base_model",
            self.out,
            self.settings.n_test_scenes,
            self.settings.eval_batch_size,
            self.settings.max_new_tokens,
            self.progress,
        )
        write_metrics(temp, "base", result)
        return {"metrics": result["metrics"]}

    def evaluate_clip(self, temp: Path) -> dict[str, Any]:
        from lightning_csr.data.shapeworld.evaluate import evaluate_clip_dir

        result = evaluate_clip_dir(self.out / "clip", self.out, self.settings.n_test_scenes)
        write_metrics(temp, "clip", result)
        return {"metrics": result["metrics"]}


def write_metrics(temp: Path, name: str, result: dict[str, Any]) -> None:
    """`metrics/<name>.json` (the numbers) and, when present, `metrics/<name>_outputs.jsonl` (per scene)."""
    write_json(temp / "metrics" / f"{name}.json", {k: v for k, v in result.items() if k != "scenes"})
    if "scenes" in result:
        lines = "".join(json.dumps(row) + "\n" for row in result["scenes"])
        atomic_write_text(temp / "metrics" / f"{name}_outputs.jsonl", lines)


class _StepCallback:
    """A Lightning callback that advances a progress task once per training batch."""

    def __new__(cls, advance: Any, hook: Any = None) -> Any:
        import lightning as L

        class StepCallback(L.Callback):
            def on_train_batch_end(self, *args: Any) -> None:
                advance(1)
                if hook is not None:
                    hook()

        return StepCallback()


def prepare(
    out: str | Path,
    settings: PrepareSettings | None = None,
    world: WorldConfig | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Build everything under `out`, skipping up-to-date stages; returns {stage: stamp} plus ran/skipped."""
    from lightning_csr.data.shapeworld.report import NullProgress

    out = Path(out)
    settings = settings or PrepareSettings()
    world = world or WorldConfig()
    progress = progress or NullProgress()
    runner = StageRunner(out, progress.event)
    build = Builder(out, world, settings, progress)
    s = settings.to_dict()
    start = time.perf_counter()
    stamps: dict[str, Any] = {}

    def run(name: str, inputs: Any, outputs: list[str], body: Any) -> None:
        stamps[name] = runner.run(name, inputs, outputs, body)

    counts = {k: s[k] for k in ("n_sft_scenes", "n_prompt_scenes", "n_val_scenes", "n_test_scenes", "seed")}
    run(
        "scenes",
        {"world": world.to_dict(), **counts},
        ["world.json", "statistics.json", "scenes", "images"],
        build.scenes,
    )
    after_scenes = stamps["scenes"]["hash"]
    run(
        "sft",
        [after_scenes, s["caption_prior_noise"], s["caption_prior_template"]],
        ["sft", "prompts"],
        build.sft,
    )
    run("processor", [after_scenes, s["clip_model"]["patch_size"]], ["processor"], build.processor)
    run(
        "vision",
        [stamps["processor"]["hash"], s["clip_model"], s["vision"]],
        ["vision"],
        build.vision,
    )
    clip_inputs = [stamps["processor"]["hash"], stamps["vision"]["hash"], s["clip_model"], s["clip"]]
    base_inputs = [stamps[k]["hash"] for k in ("sft", "processor", "vision")] + [s["vlm"], s["sft"]]
    # the CLIP and the base VLM only share the vision tower: on a multi-core machine the CLIP trains in a
    # helper process; the main process gets its second thread back when the helper is done
    helper = None
    if (
        settings.parallel_clip
        and runner.current_stamp("clip", clip_inputs, ["clip"]) is None
        and runner.current_stamp("base_model", base_inputs, ["base_model"]) is None
    ):
        helper = BackgroundStage(out, world, settings, clip_inputs, progress)
    try:
        with helper.sharing_cores() if helper else contextlib.nullcontext() as reclaim:
            build.step_hook = reclaim
            run("base_model", base_inputs, ["base_model"], build.base_model)
    finally:
        build.step_hook = None
        if helper:
            helper.join()
    if helper:
        stamps["clip"] = runner.adopt("clip", clip_inputs, ["clip"])
    else:
        run("clip", clip_inputs, ["clip"], build.clip)
    eval_inputs = [after_scenes, s["eval_batch_size"], s["max_new_tokens"]]
    run(
        "evaluate_base",
        [stamps["base_model"]["hash"], *eval_inputs],
        ["metrics/base.json", "metrics/base_outputs.jsonl"],
        build.evaluate_base,
    )
    run("evaluate_clip", [stamps["clip"]["hash"], *eval_inputs], ["metrics/clip.json"], build.evaluate_clip)
    if runner.ran or not (out / "card.md").exists():
        atomic_write_text(
            out / "card.md", card_markdown(world, settings, stamps, time.perf_counter() - start, runner)
        )
    return {
        "stamps": stamps,
        "ran": runner.ran,
        "skipped": runner.skipped,
        "seconds": time.perf_counter() - start,
    }


__all__ = ["PrepareError", "prepare", "read_scenes", "load_images"]
