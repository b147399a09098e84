"""The JSONL pairs of `tests.conftest.write_pairs` rebuilt as Hugging Face datasets in TRL's and RLAIF-V's layouts."""

from __future__ import annotations

from pathlib import Path

from lightning_csr.data.records import read_records


def _image(pairs_file: Path, relative: str) -> dict:
    return {"bytes": (pairs_file.parent / relative).read_bytes(), "path": None}


def trl_dataset(pairs_file: Path):
    """TRL's vision layout: typed-block chat messages and an `images` list."""
    import datasets

    records = read_records(pairs_file).records
    return datasets.Dataset.from_list(
        [
            {
                "id": r.id,
                "images": [_image(pairs_file, r.image)],
                "prompt": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "text": None}, {"type": "text", "text": r.prompt}],
                    }
                ],
                "chosen": [{"role": "assistant", "content": [{"type": "text", "text": r.chosen}]}],
                "rejected": [{"role": "assistant", "content": [{"type": "text", "text": r.rejected}]}],
            }
            for r in records
        ],
        features=datasets.Features(
            {
                "id": datasets.Value("string"),
                "images": [datasets.Image()],
                "prompt": [{"role": datasets.Value("string"), "content": [_block()]}],
                "chosen": [{"role": datasets.Value("string"), "content": [_block()]}],
                "rejected": [{"role": datasets.Value("string"), "content": [_block()]}],
            }
        ),
    )


def _block() -> dict:
    import datasets

    return {"type": datasets.Value("string"), "text": datasets.Value("string")}


def rlaifv_dataset(pairs_file: Path):
    """RLAIF-V's layout: `question`, `chosen`, `rejected`, one `image`, and its bookkeeping columns."""
    import datasets

    records = read_records(pairs_file).records
    return datasets.Dataset.from_dict(
        {
            "ds_name": ["RLAIF-V"] * len(records),
            "image": [_image(pairs_file, r.image) for r in records],
            "question": [r.prompt for r in records],
            "chosen": [r.chosen for r in records],
            "rejected": [r.rejected for r in records],
            "origin_dataset": ["test"] * len(records),
            "idx": list(range(len(records))),
        },
        features=datasets.Features(
            {
                "ds_name": datasets.Value("string"),
                "image": datasets.Image(),
                "question": datasets.Value("string"),
                "chosen": datasets.Value("string"),
                "rejected": datasets.Value("string"),
                "origin_dataset": datasets.Value("string"),
                "idx": datasets.Value("int64"),
            }
        ),
    )


def save(dataset, out: Path, as_parquet: bool) -> Path:
    """`save_to_disk` into `out`, or one parquet shard in `out` (the directory is the source either way)."""
    if as_parquet:
        out.mkdir(parents=True)
        dataset.to_parquet(str(out / "train-00000-of-00001.parquet"))
    else:
        dataset.save_to_disk(str(out))
    return out
