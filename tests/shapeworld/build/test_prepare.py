"""`lightning-csr shapeworld prepare --scale tiny` end to end: layout, stage skipping, interruption, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lightning_csr.backbones import LlavaBackbone
from lightning_csr.cli import main
from lightning_csr.shapeworld.build import prepare as prepare_module
from lightning_csr.shapeworld.build.prepare import prepare
from lightning_csr.shapeworld.build.settings import tiny_settings
from lightning_csr.shapeworld.build.stages import PrepareError

LAYOUT = [
    "world.json",
    "statistics.json",
    "scenes/train.jsonl",
    "scenes/val.jsonl",
    "scenes/test.jsonl",
    "images/test/test-000000.png",
    "sft/train.jsonl",
    "sft/val.jsonl",
    "prompts/train.jsonl",
    "base_model/config.json",
    "base_model/model.safetensors",
    "clip/config.json",
    "clip/model.safetensors",
    "card.md",
    "metrics/base.json",
    "metrics/base_outputs.jsonl",
    "metrics/clip.json",
]


def test_layout_card_and_prompts(prepared: tuple[Path, dict]) -> None:
    out, _ = prepared
    missing = [p for p in LAYOUT if not (out / p).exists()]
    assert not missing
    card = (out / "card.md").read_text()
    for words in ("object recall", "CHAIR_S", "CHAIR_I", "POPE F1 adversarial", "ROC-AUC", "parameters"):
        assert words in card
    prompts = [json.loads(line) for line in (out / "prompts/train.jsonl").read_text().splitlines()]
    sft_images = {json.loads(line)["image"] for line in (out / "sft/train.jsonl").read_text().splitlines()}
    assert prompts and all(
        set(p) == {"id", "image", "prompt"} and (out / p["image"]).is_file() for p in prompts
    )
    assert not sft_images & {p["image"] for p in prompts}
    base = json.loads((out / "metrics/base.json").read_text())
    assert {"chair_s", "recall", "pope/popular/f1"} <= set(base["metrics"])
    backbone = LlavaBackbone(model_id=str(out / "base_model"))
    assert backbone.load_model().config.text_config.hidden_size == tiny_settings().vlm.text_hidden


def test_rerun_skips_every_stage(prepared: tuple[Path, dict]) -> None:
    _, second = prepared
    assert second["ran"] == []
    assert "base_model" in second["skipped"] and "clip" in second["skipped"]


class KilledBuilder(prepare_module.Builder):
    """A Builder whose clip stage is interrupted after writing half a model (in its stage worker)."""

    def clip(self, temp: Path) -> dict:
        (temp / "clip").mkdir(parents=True, exist_ok=True)
        (temp / "clip" / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt


def test_interrupted_stage_leaves_old_outputs_and_resumes(tmp_path: Path, prepared, monkeypatch) -> None:
    import shutil

    out = tmp_path / "data"
    shutil.copytree(prepared[0], out)
    settings = tiny_settings()
    settings.clip.max_steps = 2  # the clip stage and everything after it must rebuild
    before = (out / "clip" / "model.safetensors").read_bytes()
    monkeypatch.setattr(prepare_module, "Builder", KilledBuilder)  # the workers get it by reference
    with pytest.raises(PrepareError, match="stage 'clip' failed in stage worker 1: KeyboardInterrupt"):
        prepare(out, settings)
    assert (out / "clip" / "model.safetensors").read_bytes() == before
    assert not (out / ".tmp").exists()
    monkeypatch.undo()
    (out / ".tmp" / "clip").mkdir(parents=True)  # what a SIGKILL leaves behind
    result = prepare(out, settings)
    assert result["ran"] == ["clip", "evaluate_clip"]  # the base VLM starts from vision/, not clip/
    assert not (out / ".tmp").exists()
    assert json.loads((out / "clip" / "training.json").read_text())["final_loss"] is not None


def test_unwritable_output_and_bad_world(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(PrepareError, match="not writable"):
        prepare(blocker / "out", tiny_settings())
    world = tmp_path / "world.json"
    world.write_text(json.dumps({"max_objects": 20, "grid": 3}))
    with pytest.raises(SystemExit) as exit_info:
        main(["shapeworld", "prepare", "--out", str(tmp_path / "o"), "--world", str(world), "--quiet"])
    assert exit_info.value.code == 2
    assert "max_objects" in capsys.readouterr().err


def test_evaluate_command(prepared: tuple[Path, dict], tmp_path: Path, capsys) -> None:
    out, _ = prepared
    main(
        [
            "shapeworld",
            "evaluate",
            "--model",
            str(out / "base_model"),
            "--data",
            str(out),
            "--scenes",
            "2",
            "--max-new-tokens",
            "4",
            "--threads",
            "1",
        ]
    )
    assert "CHAIR_S" in capsys.readouterr().out
    main(["shapeworld", "evaluate", "--model", str(out / "clip"), "--data", str(out), "--scenes", "3"])
    assert "ROC-AUC" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text("{}")
    with pytest.raises(SystemExit) as exit_info:
        main(["shapeworld", "evaluate", "--model", str(tmp_path / "empty"), "--data", str(out)])
    assert exit_info.value.code == 2
    assert "missing" in capsys.readouterr().err and prepare_module is not None


def test_busy_cores_reads_the_cpu_time_spent_meanwhile(tmp_path, monkeypatch) -> None:
    import os

    from lightning_csr.shapeworld.build import cores

    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq: 100 ticks pass, 25 of them idle -> 75 % busy
    stat.write_text("cpu  100 0 0 100 0 0 0\ncpu0 ...\n")
    monkeypatch.setattr(cores.time, "sleep", lambda _: stat.write_text("cpu  170 0 5 125 0 0 0\n"))
    assert abs(cores.busy_cores(stat_file=str(stat)) - 0.75 * (os.cpu_count() or 1)) < 1e-9
    assert 1 <= cores.auto_threads() <= (os.cpu_count() or 1)
