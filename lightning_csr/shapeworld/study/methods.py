"""One method trained in one world under one budget, scored scene by scene (and iteration by iteration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lightning_csr.shapeworld.comparison.settings import ComparisonSettings
from lightning_csr.shapeworld.study.pair_truth import pair_rows
from lightning_csr.shapeworld.study.statistics import scene_counts


def scored(result: dict[str, Any]) -> dict[str, Any]:
    """An evaluation's metrics and its per-scene counts (the bootstrap's unit)."""
    return {"metrics": result["metrics"], "scenes": scene_counts(result["scenes"]).tolist()}


def evaluate_base(config: ComparisonSettings) -> dict[str, Any]:
    """The base VLM of `config.data_dir` on `eval_scenes` scenes of `eval_split`."""
    from lightning_csr.backbones import LlavaBackbone
    from lightning_csr.shapeworld.comparison.report import evaluate_scenes

    backbone = LlavaBackbone(model_id=str(Path(config.data_dir) / "base_model"))
    return scored(evaluate_scenes(backbone.load_model(), backbone, config))


def iteration_results(run: Path, data: Path) -> tuple[list[dict[str, Any]], list[list[list[int]]]]:
    """Per iteration: its evaluation (0 = before training) and the truth of the pairs it trained on."""
    from lightning_csr.shapeworld.world.files import read_scenes
    from lightning_csr.shapeworld.world.settings import WorldSettings

    world = WorldSettings.load(data / "world.json")
    scenes = {scene.id: scene for scene in read_scenes(data, "train")}
    numbers = sorted(int(p.name) for p in (run / "iterations").iterdir() if (p / "eval.json").is_file())
    evaluations = [
        scored(json.loads((run / "iterations" / str(k) / "eval.json").read_text())) for k in numbers
    ]
    truth = [
        pair_rows(run / "iterations" / str(k) / "pairs.jsonl", scenes, world).tolist()
        for k in numbers
        if (run / "iterations" / str(k) / "pairs.jsonl").is_file()
    ]
    return evaluations, truth


def train_and_score(method: str, config: ComparisonSettings, out: Path) -> dict[str, Any]:
    """Train `method` under `out/<method>/` and score it; CSR-like methods also per iteration."""
    from lightning_csr.shapeworld.comparison.report import evaluate_scenes
    from lightning_csr.shapeworld.comparison.run import make_pairs
    from lightning_csr.shapeworld.comparison.training import train_method

    if config.evaluate_iterations:  # CSR-like: the run writes its own pairs every iteration
        module = train_method(method, config, out / "pairs.jsonl", out)
    else:
        module = train_method(method, config, make_pairs(config, out), out)
    if not config.evaluate_iterations:
        return {
            **scored(evaluate_scenes(module.policy, module.backbone, config)),
            "iterations": [],
            "pairs": [],
        }
    evaluations, truth = iteration_results(out / method, Path(config.data_dir))
    return {**evaluations[-1], "iterations": evaluations, "pairs": truth}
