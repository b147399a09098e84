"""Hugging Face datasets in: TRL's and RLAIF-V's layouts, saved or parquet, give the records of their JSONL twins,
images decoded from the stored bytes; bad rows name the row and column."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lightning_csr.data.hf_datasets import is_dataset_source
from lightning_csr.data.preference_dataset import load_image
from lightning_csr.data.prompts import read_prompts
from lightning_csr.data.records import RecordError, read_records
from lightning_csr.data.rlhf import read_rl_prompts
from tests.conftest import write_pairs
from tests.data.hf_layouts import rlaifv_dataset, save, trl_dataset

datasets = pytest.importorskip("datasets")


@pytest.fixture(autouse=True)
def parquet_cache(tmp_path, monkeypatch):
    """Parquet's Arrow copy goes to the test's directory, not the user's cache."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))


def _pixels(image):
    return np.asarray(image)


@pytest.mark.parametrize("as_parquet", [False, True], ids=["save_to_disk", "parquet"])
@pytest.mark.parametrize("layout", [trl_dataset, rlaifv_dataset], ids=["trl", "rlaifv"])
def test_dataset_gives_the_records_and_pixels_of_its_jsonl_twin(pairs_dir, tmp_path, layout, as_parquet):
    pairs_file = pairs_dir / "pairs.jsonl"
    source = save(layout(pairs_file), tmp_path / "source", as_parquet)
    assert is_dataset_source(source) and not is_dataset_source(pairs_file)
    twin = read_records(pairs_file).records
    read = read_records(source).records
    text = [(r.prompt, r.chosen, r.rejected) for r in read]
    assert text == [(r.prompt, r.chosen, r.rejected) for r in twin]
    if layout is trl_dataset:
        assert [r.id for r in read] == [r.id for r in twin]
    else:  # RLAIF-V has no id: the row is the id, its bookkeeping columns go to meta
        assert [r.id for r in read] == [str(i) for i in range(len(twin))]
        assert read[3].meta == {"ds_name": "RLAIF-V", "origin_dataset": "test", "idx": 3}
    for ours, theirs in zip(read, twin, strict=True):
        decoded = load_image(tmp_path / "unrelated", ours.image, ours.id)  # the root plays no part
        assert np.array_equal(_pixels(decoded), _pixels(load_image(pairs_dir, theirs.image, theirs.id)))
    assert not list(tmp_path.rglob("*.png"))[len(twin) :], "no image was written out as a file"


def test_prompt_readers_take_a_dataset_and_its_optional_ppo_columns(pairs_dir, tmp_path):
    dataset = rlaifv_dataset(pairs_dir / "pairs.jsonl")
    dataset = dataset.add_column("facts", [[f"fact {i}"] for i in range(len(dataset))])
    dataset = dataset.add_column("answer", ["yes"] * len(dataset))
    source = save(dataset, tmp_path / "prompts", as_parquet=False)
    prompts = read_prompts(source, limit=3)
    assert [(p.id, p.prompt) for p in prompts] == [(str(i), "What is in the image?") for i in range(3)]
    assert load_image(tmp_path, prompts[2].image, prompts[2].id).size == (16, 16)
    rl = read_rl_prompts(source)
    assert rl[4].facts == ("fact 4",) and rl[4].answer == "yes" and len(rl) == len(dataset)


def _broken(pairs_dir, tmp_path, change):
    dataset = trl_dataset(pairs_dir / "pairs.jsonl").to_list()
    change(dataset)
    table = datasets.Dataset.from_list(dataset, features=trl_dataset(pairs_dir / "pairs.jsonl").features)
    return save(table, tmp_path / "broken", as_parquet=False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows[5].update(chosen=None), r"broken: row 5: field 'chosen' is empty or not a string"),
        (lambda rows: rows[2].update(images=[]), r"broken: row 2, column 'images': no image"),
        (
            lambda rows: rows[6].update(images=rows[6]["images"] * 2),
            r"broken: row 6, column 'images': 2 images \(one per row",
        ),
        (lambda rows: rows[4].update(id="p1"), r"broken: row 4: duplicate id 'p1'"),
    ],
    ids=["empty-chosen", "no-image", "two-images", "duplicate-id"],
)
def test_bad_row_names_row_and_column(pairs_dir, tmp_path, change, message):
    with pytest.raises(RecordError, match=message):
        read_records(_broken(pairs_dir, tmp_path, change))


def test_missing_column_and_undecodable_bytes_are_named(pairs_dir, tmp_path):
    pairs_file = pairs_dir / "pairs.jsonl"
    no_rejected = save(rlaifv_dataset(pairs_file).remove_columns("rejected"), tmp_path / "a", as_parquet=True)
    with pytest.raises(RecordError, match=r"a: row 0: missing field 'rejected'"):
        read_records(no_rejected)
    no_image = save(rlaifv_dataset(pairs_file).remove_columns("image"), tmp_path / "b", as_parquet=False)
    with pytest.raises(RecordError, match=r"no image column \(TRL's `images` or RLAIF-V's `image`\)"):
        read_records(no_image)
    rows = rlaifv_dataset(pairs_file).to_dict()
    rows["image"][3] = {"bytes": b"not an image", "path": None}
    corrupt = save(
        datasets.Dataset.from_dict(rows, rlaifv_dataset(pairs_file).features), tmp_path / "c", False
    )
    record = read_records(corrupt).records[3]
    with pytest.raises(ValueError, match=r"record '3': unreadable image in .*c: row 3, column 'image'"):
        load_image(tmp_path, record.image, record.id)


def test_dataset_with_splits_asks_for_one(pairs_dir, tmp_path):
    splits = datasets.DatasetDict({"train": trl_dataset(pairs_dir / "pairs.jsonl")})
    splits.save_to_disk(str(tmp_path / "splits"))
    with pytest.raises(
        RecordError, match=r"holds the splits \['train'\]; point to one of them, e.g. .*splits/train"
    ):
        read_records(tmp_path / "splits")
    assert len(read_records(tmp_path / "splits" / "train").records) == 8


def test_meta_column_is_read_as_json_and_bad_json_is_named(tmp_path):
    write_pairs(tmp_path / "d", n=2)
    rows = trl_dataset(tmp_path / "d" / "pairs.jsonl").to_list()
    rows[0]["meta"], rows[1]["meta"] = json.dumps({"margin": 0.5}), "{not json"
    features = trl_dataset(tmp_path / "d" / "pairs.jsonl").features.copy()
    features["meta"] = datasets.Value("string")
    source = save(datasets.Dataset.from_list(rows, features=features), tmp_path / "m", as_parquet=False)
    with pytest.raises(RecordError, match=r"m: row 1, column 'meta': invalid JSON"):
        read_records(source)


def test_dpo_fit_on_trl_and_rlaifv_datasets_equals_the_fit_on_their_jsonl_twin(
    tiny_llava_dir, pairs_dir, tmp_path
):
    from tests.modules.test_preference import LossRecorder, fit, make

    pairs_file = pairs_dir / "pairs.jsonl"
    sources = {
        "jsonl": pairs_file,
        "trl": save(trl_dataset(pairs_file), tmp_path / "trl", as_parquet=False),
        "rlaifv": save(rlaifv_dataset(pairs_file), tmp_path / "rlaifv", as_parquet=True),
    }
    losses = {}
    for name, source in sources.items():
        module, data = make(tiny_llava_dir, pairs_dir)
        data.train_file = str(source)
        recorder = LossRecorder()
        fit(module, data, steps=3, callbacks=[recorder])
        losses[name] = recorder.losses
    assert len(losses["jsonl"]) == 3 and len(set(losses["jsonl"])) > 1, "the losses do not depend on the data"
    assert losses["trl"] == losses["jsonl"] and losses["rlaifv"] == losses["jsonl"]
