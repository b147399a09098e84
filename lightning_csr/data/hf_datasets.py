"""Pairs and prompts from Hugging Face `datasets`: a local `save_to_disk` directory or parquet files.

Two layouts are read, by their column names: TRL's vision preference layout (`prompt`, `chosen`, `rejected` as chat
messages or strings, plus an `images` list or one `image`) and RLAIF-V's (`question`, `chosen`, `rejected`,
`image`). Rows become the same objects a JSONL line gives, so the JSONL readers' checks and messages apply, with
`<source>: row N` in place of `file:line`. Images stay encoded bytes in the Arrow table (memory-mapped) and are
decoded when a batch needs them: a record's `image` is a reference, `datasets:<source>::<column>[<row>]`, that
`load_image` resolves, so pairs written as JSONL from such prompts (CSR's iterations) find their images too. Parquet
files are turned once into Arrow in the `datasets` cache (`HF_DATASETS_CACHE`), which is how `datasets` gives
random access to them; no image is ever written out as a file.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from lightning_csr.data.records import (
    RecordError,
    _last_turn,
    file_digest,
    iter_json_objects,
    strip_image_tag,
)

SCHEME = "datasets:"
SAVED_MARKERS = ("state.json", "dataset_info.json", "dataset_dict.json")
IMAGE_COLUMNS = ("images", "image")  # TRL's list, then RLAIF-V's (and TRL's) single image
MESSAGE_COLUMNS = ("prompt", "chosen", "rejected")
SCALARS = (str, int, float, bool, type(None))


def require_datasets():
    """The `datasets` module, or an error saying how to install it."""
    try:
        import datasets
    except ImportError:
        raise ImportError(
            "reading or writing a Hugging Face dataset needs the `datasets` package: "
            "pip install 'lightning_csr[datasets]'"
        ) from None
    return datasets


def parquet_files(path: Path) -> list[Path]:
    """The parquet files of `path` (the file itself, or every `*.parquet` under a directory, sorted)."""
    if path.is_file():
        return [path] if path.suffix == ".parquet" else []
    return sorted(path.rglob("*.parquet")) if path.is_dir() else []


def is_dataset_source(path: str | Path) -> bool:
    """Whether `path` is a `save_to_disk` directory or parquet data (rather than a JSONL/JSON file)."""
    path = Path(path)
    if path.is_dir() and any((path / marker).is_file() for marker in SAVED_MARKERS):
        return True
    return bool(parquet_files(path))


def open_dataset(source: str):
    """The `datasets.Dataset` at `source` (memory-mapped; opened again only when its files change)."""
    return _open(source, source_digest(source))


@functools.lru_cache(maxsize=8)
def _open(source: str, digest: str):
    datasets = require_datasets()
    path = Path(source)
    if path.is_dir() and any((path / marker).is_file() for marker in SAVED_MARKERS):
        dataset = datasets.load_from_disk(str(path))
        if isinstance(dataset, datasets.DatasetDict):
            raise RecordError(
                f"{path}: holds the splits {sorted(dataset)}; point to one of them, e.g. {path / next(iter(dataset))}"
            )
        return dataset
    files = parquet_files(path)
    if not files:
        raise FileNotFoundError(f"{path}: neither a `save_to_disk` directory nor parquet files")
    return datasets.Dataset.from_parquet([str(f) for f in files])


def source_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, or of a dataset source's file names, sizes and modification times."""
    path = Path(path)
    if not is_dataset_source(path):
        return file_digest(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    listing = [(str(p.relative_to(path.parent)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return hashlib.sha256(json.dumps(listing).encode("utf-8")).hexdigest()


def image_column(dataset, source: str) -> str:
    for column in IMAGE_COLUMNS:
        if column in dataset.column_names:
            return column
    raise RecordError(
        f"{source}: no image column (TRL's `images` or RLAIF-V's `image`); columns: {dataset.column_names}"
    )


def _image_counts(dataset, column: str) -> list[int]:
    """Images per row, read off the Arrow column without decoding (or copying) any image."""
    import pyarrow.compute as pc

    values = dataset.select_columns([column]).with_format("arrow")[:].column(0)
    if hasattr(values.type, "value_type"):  # a list of images
        return pc.fill_null(pc.list_value_length(values), 0).to_pylist()
    return [int(valid) for valid in values.is_valid().to_pylist()]


def _text(value: Any, where: str, column: str) -> Any:
    """A column's text: strings as they are, chat messages as their last turn's text."""
    if not isinstance(value, list):
        return value
    try:
        text = _last_turn(value)
    except (KeyError, TypeError, IndexError, AttributeError):
        raise RecordError(f"{where}, column {column!r}: expected a string or chat messages") from None
    return strip_image_tag(text) if column == "prompt" else text


def iter_dataset_rows(path: str | Path) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(location, row, object) per row, in the flat JSONL layout with `image` as an embedded reference."""
    source = str(Path(path).resolve())
    dataset = open_dataset(source)
    column = image_column(dataset, str(path))
    counts = _image_counts(dataset, column)
    text_columns = [c for c in dataset.column_names if c not in IMAGE_COLUMNS]
    for index, row in enumerate(dataset.select_columns(text_columns)):
        where = f"{path}: row {index}"
        if counts[index] != 1:
            found = "no image" if counts[index] == 0 else f"{counts[index]} images (one per row is supported)"
            raise RecordError(f"{where}, column {column!r}: {found}")
        if "question" in row and "prompt" not in row:  # RLAIF-V
            row["prompt"] = row.pop("question")
        obj = {key: _text(row.pop(key), where, key) for key in MESSAGE_COLUMNS if key in row}
        meta = row.pop("meta", None) or {}
        if isinstance(meta, str):
            try:
                meta = json.loads(meta)
            except json.JSONDecodeError as err:
                raise RecordError(f"{where}, column 'meta': invalid JSON ({err.msg})") from None
        obj["image"] = f"{SCHEME}{source}::{column}[{index}]"
        record_id = row.pop("id", None)
        obj["id"] = str(index) if record_id is None else record_id
        for key in ("facts", "answer", "kind"):  # PPO prompt columns
            if key in row:
                obj[key] = row.pop(key)
        obj["meta"] = {**{k: v for k, v in row.items() if isinstance(v, SCALARS)}, **meta}
        yield where, index, obj


def iter_source(path: str | Path) -> Iterator[tuple[str, int, Any]]:
    """The objects of a JSONL/JSON file or of a dataset source, each with its location for error messages."""
    return iter_dataset_rows(path) if is_dataset_source(path) else iter_json_objects(Path(path))


def is_embedded_image(reference: str) -> bool:
    return reference.startswith(SCHEME)


def _parse(reference: str) -> tuple[str, str, int]:
    source, _, tail = reference[len(SCHEME) :].rpartition("::")
    column, _, row = tail.rstrip("]").partition("[")
    return source, column, int(row)


def _image_rows(source: str, column: str):
    return _image_column(source, column, source_digest(source))


@functools.lru_cache(maxsize=8)
def _image_column(source: str, column: str, digest: str):
    return _open(source, digest).select_columns([column]).with_format("arrow")


def embedded_image_bytes(reference: str, record_id: str) -> bytes:
    """The encoded bytes a `datasets:` reference points at (a dataset's own image path when it has no bytes)."""
    source, column, row = _parse(reference)
    value = _image_rows(source, column)[row].column(0)[0].as_py()
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        data, file = value.get("bytes"), value.get("path")
    else:
        data, file = (value, None) if isinstance(value, bytes) else (None, value)
    if data:
        return data
    if file and Path(file).is_file():
        return Path(file).read_bytes()
    raise ValueError(f"record {record_id!r}: {source}: row {row}, column {column!r}: no image bytes")


def load_embedded_image(reference: str, record_id: str) -> Image.Image:
    """Decode the image a `datasets:` reference points at; bad bytes name the record, row and column."""
    data = embedded_image_bytes(reference, record_id)
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError) as err:
        source, column, row = _parse(reference)
        raise ValueError(
            f"record {record_id!r}: unreadable image in {source}: row {row}, column {column!r}: {err}"
        ) from err
