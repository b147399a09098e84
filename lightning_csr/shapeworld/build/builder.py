"""`Builder`: the stage bodies of `lightning-csr shapeworld prepare` (scenes, SFT data, processor, models, metrics)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lightning_csr.data.records import atomic_write_text
from lightning_csr.data.sft import write_sft_records
from lightning_csr.shapeworld import WorldSettings
from lightning_csr.shapeworld.build.settings import PrepareSettings
from lightning_csr.shapeworld.build.sft_data import image_path, sft_records
from lightning_csr.shapeworld.build.stages import write_json
from lightning_csr.shapeworld.world.files import load_images, read_scenes, world_statistics
from lightning_csr.shapeworld.world.sampling import generate_scenes
from lightning_csr.shapeworld.world.tasks import (
    DESCRIPTION_PROMPTS,
    world_corpus,
)


class Builder:
    """The stage bodies of `prepare`, sharing the output root, the world and the settings."""

    def __init__(self, out: Path, world: WorldSettings, settings: PrepareSettings, progress: Any) -> None:
        self.out, self.world, self.settings, self.progress = out, world, settings, progress

    def scenes(self, temp: Path) -> dict[str, Any]:
        s = self.settings
        counts = {"train": s.n_sft_scenes + s.n_prompt_scenes, "val": s.n_val_scenes, "test": s.n_test_scenes}
        task = self.progress.add("scenes: render", sum(counts.values()))
        for split, n in counts.items():
            scenes = generate_scenes(self.world, n, seed=s.seed, split=split)
            lines = "".join(json.dumps(scene.to_dict()) + "\n" for scene in scenes)
            atomic_write_text(temp / "scenes" / f"{split}.jsonl", lines)
            (temp / "images" / split).mkdir(parents=True)
            from lightning_csr.shapeworld.world.render import render_scene

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
        from lightning_csr.shapeworld.world.tokenizer import build_processor, processor_spec

        train = read_scenes(self.out, "train")[: self.settings.n_sft_scenes]
        corpus = world_corpus(self.world, train, self.settings.seed)
        patch_size = self.settings.clip_model.patch_size
        processor = build_processor(self.world, corpus, temp / "processor", patch_size=patch_size)
        return {"spec": processor_spec(processor).__dict__}

    def base_model(self, temp: Path) -> dict[str, Any]:
        from transformers import AutoProcessor

        from lightning_csr.shapeworld.models.vlm import base_vlm_config, train_base_vlm
        from lightning_csr.shapeworld.world.tokenizer import processor_spec

        spec = processor_spec(AutoProcessor.from_pretrained(str(self.out / "processor")))
        config = base_vlm_config(spec, self.settings.vlm, self.settings.clip_model)
        task = self.progress.add("base VLM: SFT steps", self.settings.sft.max_steps)
        callback = _StepCallback(task)
        return train_base_vlm(
            config,
            self.out / "processor",
            self.out,
            temp / "base_model",
            self.settings.sft,
            [callback],
            vision_init=self.out / "vision",
        )

    def vision(self, temp: Path) -> dict[str, Any]:
        from transformers import AutoProcessor, CLIPVisionConfig

        from lightning_csr.shapeworld.models.vision_pretrain import pretrain_vision

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

    def clip(self, temp: Path) -> dict[str, Any]:
        import torch
        from transformers import AutoProcessor, CLIPModel, CLIPVisionModel

        from lightning_csr.shapeworld.models.clip import (
            build_clip_processor,
            clip_config,
            save_clip,
            train_clip,
        )
        from lightning_csr.shapeworld.models.vlm import count_parameters

        tokenizer = AutoProcessor.from_pretrained(str(self.out / "processor")).tokenizer
        processor = build_clip_processor(tokenizer, self.world, temp / "clip")
        torch.manual_seed(self.settings.clip.seed)  # the text tower's initial weights
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
        from lightning_csr.shapeworld.evaluation.model_dirs import evaluate_vlm_dir

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
        from lightning_csr.shapeworld.evaluation.model_dirs import evaluate_clip_dir

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

    def __new__(cls, advance: Any) -> Any:
        import lightning as L

        class StepCallback(L.Callback):
            def on_train_batch_end(self, *args: Any) -> None:
                advance(1)

        return StepCallback()
