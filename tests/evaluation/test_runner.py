"""`lightning-csr evaluate` on a tiny random LLaVA: shapeworld, chair and pope, answer reuse, bad model dirs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

import lightning_csr.evaluation.cached_generation as cached_generation
from lightning_csr.cli import main as cli_main
from lightning_csr.evaluation.model_files import ModelDirError
from lightning_csr.evaluation.model_loading import load_model
from lightning_csr.shapeworld import WorldSettings, generate_scenes, render_scene
from lightning_csr.shapeworld.build.sft_data import image_path
from tests.evaluation.coco_fixture import NO_FILE, write_coco_fixture
from tests.paths import REPO

FAST = ["--batch-size", "8", "--max-new-tokens", "3", "--answer-tokens", "2"]


def write_tiny_shapeworld(root: Path, n: int = 2, split: str = "test") -> Path:
    """A prepared-ShapeWorld layout (world.json, scenes/<split>.jsonl, images/<split>/) with `n` scenes."""
    world = WorldSettings()
    scenes = generate_scenes(world, n, seed=0, split=split)
    (root / "scenes").mkdir(parents=True)
    (root / "images" / split).mkdir(parents=True)
    (root / "scenes" / f"{split}.jsonl").write_text("".join(json.dumps(s.to_dict()) + "\n" for s in scenes))
    for scene in scenes:
        render_scene(scene, world).save(root / image_path(split, scene.id))
    world.save(root / "world.json")
    return root


@pytest.fixture
def count_generations(monkeypatch) -> list[int]:
    """Batch sizes of every generate_answers call the runner makes."""
    calls: list[int] = []
    real = cached_generation.generate_answers

    def counting(model, backbone, images, prompts, **kwargs):
        calls.append(len(prompts))
        return real(model, backbone, images, prompts, **kwargs)

    monkeypatch.setattr(cached_generation, "generate_answers", counting)
    return calls


def evaluate(*args: str) -> dict:
    cli_main(["evaluate", *args])
    out = Path(args[args.index("--out") + 1])
    return json.loads((out / "results.json").read_text())


def test_shapeworld_run_then_rerun_reuses_answers(tiny_llava_dir, tmp_path, count_generations) -> None:
    data, out = write_tiny_shapeworld(tmp_path / "sw"), tmp_path / "out"
    args = [
        "--model",
        str(tiny_llava_dir),
        "--benchmark",
        "shapeworld",
        "--data",
        str(data),
        "--out",
        str(out),
    ]
    first = evaluate(*args, *FAST)
    for key in ("chair_s", "chair_i", "recall", "pope/adversarial/f1", "attribute/attribute_error"):
        assert 0.0 <= first["metrics"][key] <= 1.0, key
    generated = first["generation"]["generated"]
    assert generated == sum(count_generations) and first["generation"]["reused"] == 0
    assert len(first["details"]["per_scene"]) == 2
    # the judge-free MMHal stand-in rides along: rated replies, MMHal's 1-5 scale and hallucination rate
    assert first["details"]["mmhal"] and {r["rating"] for r in first["details"]["mmhal"]} <= {1, 3, 5}
    assert 1.0 <= first["metrics"]["mmhal/average_score"] <= 5.0
    assert 0.0 <= first["metrics"]["mmhal/hallucination_rate"] <= 1.0
    answers = (out / "answers.jsonl").read_text().splitlines()
    assert len(answers) == generated
    assert (out / "report.md").read_text().startswith("# shapeworld evaluation of llava:")

    count_generations.clear()
    second = evaluate(*args, *FAST)
    assert count_generations == [] and second["generation"] == {"generated": 0, "reused": generated}
    assert second["metrics"] == first["metrics"]

    count_generations.clear()
    third = evaluate(*args, "--batch-size", "8", "--max-new-tokens", "2", "--answer-tokens", "2")
    # the descriptions have a new budget and are generated again; the short answers are reused
    assert third["generation"] == {"generated": 2, "reused": generated - 2} and sum(count_generations) == 2


@pytest.mark.parametrize("benchmark", ["chair", "pope"])
def test_coco_benchmarks(tiny_llava_dir, tmp_path, benchmark) -> None:
    instances, captions, images = write_coco_fixture(tmp_path)
    out = tmp_path / "out"
    result = evaluate(
        "--model", str(tiny_llava_dir), "--benchmark", benchmark, "--out", str(out),
        "--coco-instances", str(instances), "--coco-captions", str(captions), "--images-dir", str(images), *FAST,
    )  # fmt: skip
    metrics = result["metrics"]
    if benchmark == "chair":
        assert {"chair_s", "chair_i", "recall"} <= set(metrics)
        assert metrics["n_captions"] == 7 and str(NO_FILE) not in result["details"]["per_image"]
    else:
        for split in ("random", "popular", "adversarial"):
            assert 0.0 <= metrics[f"pope/{split}/f1"] <= 1.0
            assert metrics[f"pope/{split}/n"] > 0
        assert "POPE per split" in (out / "report.md").read_text()
    assert any(str(NO_FILE) in line for line in result["skipped"])


def test_missing_benchmark_file_is_a_clear_error(tiny_llava_dir, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["evaluate", "--model", str(tiny_llava_dir), "--benchmark", "chair", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "--benchmark chair needs --coco-instances, --images-dir" in capsys.readouterr().err


def test_model_dir_without_processor_is_a_clear_error(tiny_llava_dir, tmp_path, capsys) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors", "generation_config.json"):
        if (tiny_llava_dir / name).exists():
            shutil.copy(tiny_llava_dir / name, bare / name)
    with pytest.raises(SystemExit) as exit_info:
        cli_main(
            ["evaluate", "--model", str(bare), "--benchmark", "shapeworld", "--out", str(tmp_path / "o")]
        )
    assert exit_info.value.code == 2
    assert "has no processor" in capsys.readouterr().err


def test_base_plus_adapter(tiny_llava_dir, tmp_path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(tiny_llava_dir)
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    loaded = load_model(str(tiny_llava_dir), str(tmp_path / "adapter"))
    assert "adapter" in loaded.description and hasattr(loaded.model, "peft_config")
    with pytest.raises(ModelDirError, match="PEFT adapter only"):
        load_model(str(tmp_path / "adapter"))


def test_run_dir_from_config_and_checkpoint(tiny_llava_dir, tmp_path) -> None:
    """A run dir (config.yaml + checkpoints/last.ckpt + iterations/) evaluates its policy and reports history."""
    from lightning_csr.run_config import load_run
    from tests.evaluation.test_report import write_fake_run

    config = yaml.safe_load((REPO / "configs/dpo/tiny_cpu.yaml").read_text())
    config["model"]["init_args"]["backbone"]["init_args"]["model_id"] = str(tiny_llava_dir)
    run = write_fake_run(tmp_path / "run")
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    module = load_run(run / "config.yaml").model
    module.configure_model()
    with torch.no_grad():
        for name, param in module.policy.named_parameters():
            if "lora_B" in name:
                param.fill_(0.01)
    state = {k: v for k, v in module.state_dict().items() if "lora_" in k}
    (run / "checkpoints").mkdir()
    torch.save({"state_dict": state}, run / "checkpoints" / "last.ckpt")

    loaded = load_model(str(run))
    assert loaded.run_dir == run
    lora_b = dict(loaded.model.named_parameters())
    assert all(torch.all(v == 0.01) for k, v in lora_b.items() if "lora_B" in k)

    data = write_tiny_shapeworld(tmp_path / "sw", n=1)
    result = evaluate("--model", str(run), "--benchmark", "shapeworld", "--data", str(data),
                      "--out", str(run / "eval"), *FAST)  # fmt: skip
    assert [row["iteration"] for row in result["run"]["iterations"]] == [0, 1, 2]
    assert (run / "eval" / "metric_curves.png").is_file() and (run / "eval" / "pair_scores.png").is_file()
    assert "final policy (this evaluation)" in (run / "eval" / "report.md").read_text()


def test_amber_from_the_command_line_reproduces_the_hand_computed_values(
    tiny_llava_dir, tmp_path, monkeypatch
) -> None:
    from tests.evaluation.test_amber import ANSWERS, write_amber

    data, images = write_amber(tmp_path)
    Image.new("RGB", (4, 4), "red").save(images / "AMBER_2.jpg")  # tells the two descriptions apart
    by_prompt = {f"Is this question {i}?": ANSWERS[i] for i in range(3, 9)}

    def scripted(model, backbone, images, prompts, **kwargs):
        return [
            by_prompt.get(prompt) or ANSWERS[2 if image.getpixel((0, 0))[0] > 128 else 1]
            for image, prompt in zip(images, prompts, strict=True)
        ]

    monkeypatch.setattr(cached_generation, "generate_answers", scripted)
    out = tmp_path / "out"
    result = evaluate(
        "--model", str(tiny_llava_dir), "--benchmark", "amber", "--out", str(out),
        "--amber-dir", str(data), "--images-dir", str(images), "--batch-size", "8",
    )  # fmt: skip
    metrics = result["metrics"]
    # the values computed by hand in tests/evaluation/test_amber.py
    assert (metrics["amber/chair"], metrics["amber/cover"], metrics["amber/hal"]) == pytest.approx(
        (0.25, 0.8, 0.5)
    )
    assert metrics["amber/cog"] == pytest.approx(0.2)
    assert metrics["amber/discriminative/f1"] == pytest.approx(2 / 3)
    assert result["options"]["amber_parser"] == "first_word"
