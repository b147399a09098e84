"""Bad input through the real `lightning-csr fit`: exit status 2, one error line naming the file and line (or
field), no training step where a check can see it first; `on_bad_record=skip` drops and lists the bad records."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_pairs
from tests.paths import REPO

CONFIG = REPO / "configs" / "dpo" / "tiny_cpu.yaml"
GOOD = {
    "id": "bad",
    "image": "images/0.png",
    "prompt": "What is it?",
    "chosen": "a red square",
    "rejected": "a star",
}


def fit(tiny_llava_dir: Path, data: Path, run: Path, *overrides: str) -> subprocess.CompletedProcess:
    """`lightning-csr fit` on the tiny DPO config; a checkpoint is written after every step (the step marker)."""
    command = [
        *(sys.executable, "-m", "lightning_csr.cli", "fit", "--config", str(CONFIG)),
        f"--model.init_args.backbone.init_args.model_id={tiny_llava_dir}",
        f"--data.init_args.data_dir={data}",
        f"--trainer.default_root_dir={run}",
        "--trainer.max_steps=2",
        "--trainer.enable_progress_bar=false",
        "--trainer.logger=false",
        "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.every_n_train_steps=1",
        f"--trainer.callbacks.dirpath={run / 'steps'}",
        "--trainer.callbacks.save_top_k=-1",
        *overrides,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=run.parent, timeout=300)


def error_line(result: subprocess.CompletedProcess) -> str:
    """The run's one error line: exit status 2, no traceback, and no other line that reports an error."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and result.stderr.strip().splitlines()[-1] == errors[0], result.stderr[-3000:]
    assert errors[0].startswith("lightning-csr fit: error: ")
    return errors[0]


def steps_taken(run: Path) -> int:
    return len(list((run / "steps").glob("*.ckpt")))


def _truncate(data: Path) -> None:
    image = data / "images" / "3.png"
    image.write_bytes(image.read_bytes()[:-20])  # header intact, pixel data cut short


# name -> (the bad line written as line 3 of 8, a change to the files, the overrides, what the error names)
BAD_INPUTS = {
    "malformed_json": ('{"id": "bad", "image": ', None, (), r"pairs.jsonl:3: malformed JSON line"),
    "missing_field": (
        json.dumps({k: v for k, v in GOOD.items() if k != "chosen"}),
        None,
        (),
        r"pairs.jsonl:3: record 'bad': missing field 'chosen'",
    ),
    "empty_answer": (
        json.dumps({**GOOD, "chosen": " "}),
        None,
        (),
        r"pairs.jsonl:3: record 'bad': field 'chosen'",
    ),
    "chosen_equals_rejected": (
        json.dumps({**GOOD, "rejected": GOOD["chosen"]}),
        None,
        (),
        r"pairs.jsonl:3: record 'bad': field 'rejected': same text as chosen",
    ),
    "missing_image": (
        json.dumps({**GOOD, "image": "images/gone.png"}),
        None,
        (),
        r"pairs.jsonl:3: record 'bad': field 'image': image file not found: .*images/gone.png",
    ),
    "truncated_image": (
        json.dumps({**GOOD, "image": "images/3.png"}),
        _truncate,
        (),
        r"pairs.jsonl:3: record 'bad': field 'image': truncated or corrupt image .*images/3.png",
    ),
    "not_an_image": (
        json.dumps({**GOOD, "image": "pairs.jsonl"}),
        None,
        (),
        r"pairs.jsonl:3: record 'bad': field 'image': not an image file: .*pairs.jsonl",
    ),
    "prompt_over_max_length": (
        json.dumps({**GOOD, "prompt": "why " * 200}),
        None,
        ("--data.init_args.max_length=120", "--data.init_args.on_too_long=error"),
        r"1 pair\(s\) over max_length=120: .*pairs.jsonl:3: record 'bad' needs \d+ tokens",
    ),
    "image_token_mismatch": (
        json.dumps({**GOOD, "prompt": "What is <image> here?"}),
        None,
        (),
        r"pairs.jsonl:3: record 'bad': field 'prompt': .*<image>",
    ),
}


def bad_data(root: Path, line: str, change) -> Path:
    """Seven good pairs and `line` as line 3."""
    data = root / "data"
    pairs = write_pairs(data, n=7).read_text().splitlines()
    (data / "pairs.jsonl").write_text("\n".join([*pairs[:2], line, *pairs[2:]]) + "\n")
    if change is not None:
        change(data)
    return data


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_is_one_line_before_any_step(name, tiny_llava_dir, tmp_path):
    line, change, overrides, expected = BAD_INPUTS[name]
    data = bad_data(tmp_path, line, change)
    result = fit(tiny_llava_dir, data, tmp_path / "run", *overrides)
    assert re.search(expected, error_line(result)), error_line(result)
    assert steps_taken(tmp_path / "run") == 0


def test_skip_drops_bad_records_and_lists_them(tiny_llava_dir, tmp_path):
    data = bad_data(tmp_path, BAD_INPUTS["missing_image"][0], None)
    with open(data / "pairs.jsonl", "a") as handle:
        same = json.dumps({**GOOD, "id": "same", "rejected": GOOD["chosen"]})
        handle.write(BAD_INPUTS["malformed_json"][0] + "\n" + same + "\n")
    run = tmp_path / "run"
    result = fit(tiny_llava_dir, data, run, "--data.init_args.on_bad_record=skip")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "dropped 3 bad record(s) of 10" in result.stderr
    rejects = [
        json.loads(line) for line in (run / "rejects" / "pairs.jsonl.rejects.jsonl").read_text().splitlines()
    ]
    assert [(r["where"].rsplit("/", 1)[-1], r["field"]) for r in rejects] == [
        ("pairs.jsonl:3", "image"),
        ("pairs.jsonl:9", None),
        ("pairs.jsonl:10", "rejected"),
    ]
    assert rejects[0]["record"] == BAD_INPUTS["missing_image"][0] and "not found" in rejects[0]["reason"]
    assert steps_taken(run) == 2


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "--model.init_args.backbone.class_path=lightning_csr.backbones.NoSuchBackbone",
            r"model\.backbone: class_path 'lightning_csr\.backbones\.NoSuchBackbone': .*; known backbones: "
            r".*LlavaBackbone.*Qwen2VLBackbone",
        ),
        ("--model.init_args.loss.beta=-1", r"beta must be positive, got -1"),
    ],
    ids=["unknown_backbone", "value_out_of_range"],
)
def test_bad_config_is_one_line(override, expected, tiny_llava_dir, pairs_dir, tmp_path):
    result = fit(tiny_llava_dir, pairs_dir, tmp_path / "run", override)
    assert re.search(expected, error_line(result)), error_line(result)
    assert steps_taken(tmp_path / "run") == 0


def test_nan_loss_names_the_step_and_keeps_checkpoints(tiny_llava_dir, pairs_dir, tmp_path):
    run = tmp_path / "run"
    result = fit(tiny_llava_dir, pairs_dir, run, "--model.init_args.optimizer.init_args.lr=1e30")
    line = error_line(result)
    assert re.search(r"non-finite loss nan at global step (\d+) .*: lower the learning rate", line), line
    step = int(line.split("global step ")[1].split()[0])
    assert step >= 1 and steps_taken(run) == step  # the steps before it were checkpointed and are kept
