"""`lightning-csr evaluate` checks its question file and images before it loads the model, all bad lines at once."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from lightning_csr.cli import main
from lightning_csr.commands import user_errors

GOOD = {"question_id": 1, "image": "a.png", "text": "Is there a dog in the image?", "label": "yes"}


def evaluate(tmp_path, capsys, lines: list[str]) -> str:
    pope = tmp_path / "coco_pope_random.jsonl"
    pope.write_text("\n".join(lines) + "\n")
    argv = ["evaluate", "--model", str(tmp_path / "no_model"), "--benchmark", "pope"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--pope-file", str(pope), "--images-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    return line


def test_every_bad_question_line_is_reported_before_the_model_loads(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(user_errors, "DEBUG", False)
    lines = [
        json.dumps(GOOD),
        "{oops",
        json.dumps({**GOOD, "question_id": 2}),
        json.dumps({**GOOD, "label": "maybe"}),
    ]
    line = evaluate(tmp_path, capsys, lines)
    assert "2 bad line(s)" in line and "coco_pope_random.jsonl:2: not valid JSON" in line, line
    assert "coco_pope_random.jsonl:4: label must be 'yes' or 'no'" in line and "no_model" not in line, line


def test_an_unreadable_image_is_reported_before_the_model_loads(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(user_errors, "DEBUG", False)
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_text("not an image")
    line = evaluate(
        tmp_path, capsys, [json.dumps(GOOD), json.dumps({**GOOD, "question_id": 2, "image": "b.png"})]
    )
    assert "1 unreadable image(s): question 2: not an image file:" in line and "b.png" in line, line


def test_amber_images_are_checked_before_the_model_loads(tmp_path, capsys, monkeypatch):
    from tests.evaluation.test_amber import write_amber

    monkeypatch.setattr(user_errors, "DEBUG", False)
    data, images = write_amber(tmp_path)
    (images / "AMBER_2.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")  # a JPEG signature, then nothing
    argv = [
        "evaluate",
        "--model",
        str(tmp_path / "no_model"),
        "--benchmark",
        "amber",
        "--amber-dir",
        str(data),
    ]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--images-dir", str(images), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "1 unreadable image(s): query 2: truncated or corrupt image" in line and "AMBER_2.jpg" in line, (
        line
    )
