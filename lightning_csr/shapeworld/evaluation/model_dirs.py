"""Evaluate a saved model directory (a LLaVA-style VLM or a CLIP) on a prepared ShapeWorld's test scenes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lightning_csr.evaluation.model_files import PROCESSOR_FILES, WEIGHT_FILES, ModelDirError
from lightning_csr.shapeworld import WorldSettings

# config.json model_type -> backbone family for VLMs
VLM_FAMILIES = {
    "llava": "llava",
    "llava_next": "llava_next",
    "qwen2_vl": "qwen2_vl",
    "idefics3": "idefics3",
    "paligemma": "paligemma",
}


def model_kind(model_dir: str | Path) -> str:
    """`clip` or a backbone family name for a saved model directory; ModelDirError naming what is missing."""
    path = Path(model_dir)
    if not path.is_dir():
        raise ModelDirError(f"model directory {path} does not exist")
    if (path / "adapter_config.json").exists() and not (path / "config.json").exists():
        raise ModelDirError(
            f"{path} holds a LoRA adapter only: evaluate the merged model (`lightning-csr export`)"
        )
    missing = [name for name in ("config.json",) if not (path / name).exists()]
    if not any((path / name).exists() for name in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES[::2]))
    if not any((path / name).exists() for name in PROCESSOR_FILES):
        missing.append(" or ".join(PROCESSOR_FILES))
    if not (path / "tokenizer.json").exists() and not (path / "tokenizer_config.json").exists():
        missing.append("tokenizer.json")
    if missing:
        raise ModelDirError(
            f"{path} is not a saved model + processor directory: missing {', '.join(missing)}"
        )
    model_type = json.loads((path / "config.json").read_text()).get("model_type")
    if model_type == "clip":
        return "clip"
    if model_type not in VLM_FAMILIES:
        raise ModelDirError(
            f"{path}: model_type {model_type!r} is neither clip nor a known VLM {sorted(VLM_FAMILIES)}"
        )
    return VLM_FAMILIES[model_type]


def _test_data(data_root: Path, n_scenes: int | None) -> tuple[WorldSettings, list, list]:
    from lightning_csr.shapeworld.world.files import load_images, read_scenes

    world_file = data_root / "world.json"
    if not world_file.is_file():
        raise FileNotFoundError(
            f"{world_file} not found: run `lightning-csr shapeworld prepare --out {data_root}` first"
        )
    world = WorldSettings.load(world_file)
    scenes = read_scenes(data_root, "test")[:n_scenes]
    return world, scenes, load_images(data_root, "test", scenes)


def evaluate_vlm_dir(
    model_dir: str | Path,
    data_root: str | Path,
    n_scenes: int | None = 500,
    batch_size: int = 64,
    max_new_tokens: int = 64,
    progress: Any = None,
) -> dict[str, Any]:
    """CHAIR, POPE and attribute metrics of a saved VLM on the first `n_scenes` test scenes."""
    from lightning_csr.backbones import build_backbone
    from lightning_csr.shapeworld.evaluation.metrics import evaluate_shapeworld

    family = model_kind(model_dir)
    if family == "clip":
        raise ModelDirError(f"{model_dir} is a CLIP model, not a VLM")
    world, scenes, images = _test_data(Path(data_root), n_scenes)
    backbone = build_backbone(family, model_id=str(model_dir))
    model = backbone.load_model()
    advance = None
    if progress is not None:
        advance = progress.add(f"evaluate {Path(model_dir).name}: generations", _n_generations(world, scenes))
    start = time.perf_counter()
    result = evaluate_shapeworld(
        model, backbone, world, scenes, batch_size, max_new_tokens, images, progress=advance
    )
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["n_scenes"] = len(scenes)
    result["model"] = str(model_dir)
    return result


def _n_generations(world: WorldSettings, scenes: list) -> int:
    from lightning_csr.shapeworld.evaluation.metrics import shapeworld_questions

    pope, attributes = shapeworld_questions(world, scenes)
    return len(scenes) + len({(q["scene_id"], q["question"]) for q in pope + attributes})


def evaluate_clip_dir(
    model_dir: str | Path, data_root: str | Path, n_scenes: int | None = 500
) -> dict[str, Any]:
    """ROC-AUC of a saved CLIP's present-vs-absent shape scores on the first `n_scenes` test scenes."""
    from transformers import AutoProcessor, CLIPModel

    from lightning_csr.shapeworld.models.clip import clip_auc

    if model_kind(model_dir) != "clip":
        raise ModelDirError(f"{model_dir} is not a CLIP model")
    world, scenes, images = _test_data(Path(data_root), n_scenes)
    model = CLIPModel.from_pretrained(str(model_dir)).eval()
    processor = AutoProcessor.from_pretrained(str(model_dir))
    start = time.perf_counter()
    metrics = clip_auc(model, processor, world, scenes, images)
    return {
        "metrics": metrics,
        "seconds": round(time.perf_counter() - start, 1),
        "n_scenes": len(scenes),
        "model": str(model_dir),
    }
