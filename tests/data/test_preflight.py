"""The pre-flight check in-process: every problem at once, one check per file version, the resume command."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from lightning_csr.data import PreferenceDataModule
from lightning_csr.data import preflight as preflight_module
from lightning_csr.data.preflight import checked_records
from lightning_csr.data.preflight_report import DataError
from lightning_csr.data.records import pair_problems, parse_record
from tests.conftest import write_pairs


def test_every_bad_record_is_reported_at_once(tmp_path):
    pairs = write_pairs(tmp_path, n=4)
    (tmp_path / "images" / "1.png").unlink()
    lines = pairs.read_text().splitlines()
    lines[2] = json.dumps({**json.loads(lines[2]), "rejected": json.loads(lines[2])["chosen"]})
    pairs.write_text("\n".join([*lines, "{oops"]) + "\n")
    with pytest.raises(DataError) as caught:
        checked_records(pairs, parse_record, tmp_path, extra=pair_problems)
    message = str(caught.value)
    assert "3 bad record(s) of 5" in message and "\n" not in message
    for expected in (
        "pairs.jsonl:2: record 'p1': field 'image': image file not found",
        "pairs.jsonl:3: record 'p2': field 'rejected': same text as chosen",
        "pairs.jsonl:5: malformed JSON line",
    ):
        assert expected in message, message


def test_verdict_is_cached_per_file_version(tmp_path, monkeypatch):
    pairs = write_pairs(tmp_path, n=3)
    opened: list[str] = []
    real = preflight_module.image_problem
    monkeypatch.setattr(
        preflight_module,
        "image_problem",
        lambda path, *args: (opened.append(path.name), real(path, *args))[1],
    )
    checked_records(pairs, parse_record, tmp_path)
    checked_records(pairs, parse_record, tmp_path)
    assert len(opened) == 3  # the second check of the same bytes reads the cached verdict
    (tmp_path / "images" / "2.png").unlink()
    pairs.write_text(pairs.read_text() + "\n")  # a new version of the file
    with pytest.raises(DataError, match="pairs.jsonl:3: record 'p2': field 'image'"):
        checked_records(pairs, parse_record, tmp_path)
    assert len(opened) == 6


def test_bad_pairs_in_a_later_iteration_name_the_resume_command(tmp_path, monkeypatch):
    write_pairs(tmp_path / "iterations" / "2", n=2)
    (tmp_path / "iterations" / "2" / "images" / "0.png").unlink()
    monkeypatch.setattr("sys.argv", ["lightning-csr", "fit", "--config", "configs/csr/shapeworld.yaml"])
    dm = PreferenceDataModule(data_dir=str(tmp_path / "iterations" / "2"))
    dm.trainer = SimpleNamespace(global_step=40, default_root_dir=str(tmp_path))
    with pytest.raises(DataError) as caught:
        dm.train_dataset()
    assert str(caught.value).endswith(
        "resume with `lightning-csr fit --config configs/csr/shapeworld.yaml --ckpt_path last`"
    )
    assert (tmp_path / "rejects" / "pairs.jsonl.rejects.jsonl").is_file()


def test_ppo_prompts_are_checked_with_the_processor_when_the_module_connects(
    tiny_llava_dir, rl_prompts, tmp_path
):
    from lightning_csr.backbones import LlavaBackbone
    from lightning_csr.data.rlhf import RLPromptDataModule

    lines = rl_prompts.read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), "prompt": "What is <image> here?"})
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("\n".join(lines) + "\n")
    dm = RLPromptDataModule(train_file=str(prompts), image_root=str(rl_prompts.parent))
    dm.setup("fit")
    with pytest.raises(
        DataError, match=r"1 bad record\(s\) of 4: .*prompts.jsonl:2: record 'r1': field 'prompt': "
    ):
        dm.connect(LlavaBackbone(model_id=str(tiny_llava_dir)))
