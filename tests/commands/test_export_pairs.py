"""`lightning-csr export-pairs` and `povid inject --out-dataset`: pairs written as a dataset with their images."""

from __future__ import annotations

import json

import pytest

from lightning_csr.cli import main
from lightning_csr.data.records import read_records

datasets = pytest.importorskip("datasets")


def _image_bytes(dataset_dir, index: int) -> bytes:
    table = datasets.load_from_disk(str(dataset_dir)).cast_column("images", [datasets.Image(decode=False)])
    return table[index]["images"][0]["bytes"]


def test_export_pairs_of_a_file_or_an_iteration_directory(pairs_dir, tmp_path, capsys):
    main(["export-pairs", str(pairs_dir / "pairs.jsonl"), "--out", str(tmp_path / "a")])
    assert "a: 8 pairs with their images" in capsys.readouterr().out
    assert _image_bytes(tmp_path / "a", 4) == (pairs_dir / "images" / "4.png").read_bytes()
    iteration = tmp_path / "run" / "iterations" / "1"
    iteration.mkdir(parents=True)
    (iteration / "pairs.jsonl").write_text((pairs_dir / "pairs.jsonl").read_text())
    main(["export-pairs", str(iteration), "--image-root", str(pairs_dir), "--out", str(tmp_path / "b")])
    assert read_records(tmp_path / "b").records[7].chosen == "a red square 7"
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["export-pairs", str(iteration), "--out", str(tmp_path / "c")])  # images are not beside it
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert "record 'p0': image file not found" in error and len(error.splitlines()) == 1


def test_povid_inject_writes_the_pairs_dataset_too(pairs_dir, tmp_path, capsys):
    answers = tmp_path / "answers.jsonl"
    rows = [
        {
            "id": "1",
            "image": "images/1.png",
            "prompt": "Describe.",
            "response": "A dog runs.",
            "objects": ["dog"],
        },
        {
            "id": "2",
            "image": "images/2.png",
            "prompt": "Describe.",
            "response": "A cat sits.",
            "objects": ["cat"],
        },
    ]
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out, dataset = tmp_path / "pairs.jsonl", tmp_path / "pairs_dataset"
    main(["povid", "inject", "--input", str(answers), "--vocabulary", "coco", "--out", str(out),
          "--num-edits", "1", "--kinds", "object", "--out-dataset", str(dataset),
          "--image-root", str(pairs_dir)])  # fmt: skip
    assert [r.rejected for r in read_records(dataset).records] == [
        r.rejected for r in read_records(out).records
    ]
    assert _image_bytes(dataset, 1) == (pairs_dir / "images" / "2.png").read_bytes()
