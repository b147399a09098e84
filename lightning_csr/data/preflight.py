"""The pre-flight check of a data file: every record parses, has its fields, and its image opens; all at once.

A DataModule calls `checked_records` before it builds a dataset. The slow part (images, token counts) runs once
per file version: its verdict is cached beside the data, keyed by the file's SHA-256 and the check's settings.
With `on_bad_record="error"` any bad record stops the run with one line; with `"skip"` the bad records are
dropped and written to `<run dir>/rejects/<file>.rejects.jsonl` with their reasons.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from rich.progress import track

from lightning_csr.data.hf_datasets import (
    embedded_image_bytes,
    is_dataset_source,
    is_embedded_image,
    iter_source,
    source_digest,
)
from lightning_csr.data.preflight_report import (
    SKIP_OPTION,
    Problem,
    Verdict,
    bad_records_error,
    field_of,
    load_verdict,
    rejects_path,
    store_verdict,
    verdict_key,
    write_rejects,
)
from lightning_csr.data.records import RecordError
from lightning_csr.distributed import Ranks

log = logging.getLogger(__name__)

BAD_RECORD_ACTIONS = ("error", "skip")
IMAGE_SIGNATURES = (b"\x89PNG", b"\xff\xd8", b"GIF8", b"RIFF", b"BM")  # what PIL cannot open is cut short
PROGRESS_FROM = 2000  # records: smaller files are checked without a progress bar

Parse = Callable[[Any, str, int], Any]  # (object, where, index) -> record, or RecordError
ExtraCheck = Callable[[Any], list[tuple[str, str]]]  # record -> [(field, what is wrong)]
# [(where, record, image size)] -> (problems, {where: tokens}) with a backbone's processor
TokenCheck = Callable[[list[tuple[str, Any, tuple[int, int]]]], tuple[list[Problem], dict[str, int]]]


@dataclass
class CheckedFile:
    """The records to use, in file order with their `where`, and the verdict that chose them."""

    records: list[tuple[str, Any]]
    verdict: Verdict
    dropped: list[Problem] = field(default_factory=list)


def check_bad_record_action(value: str) -> str:
    if value not in BAD_RECORD_ACTIONS:
        raise ValueError(f"on_bad_record: expected one of {BAD_RECORD_ACTIONS}, got {value!r}")
    return value


def scan(path: Path) -> Iterator[tuple[str, int, Any, str | None]]:
    """(where, index, object, raw line) of each record; a line that is not JSON yields a RecordError object."""
    if path.suffix == ".json" or is_dataset_source(
        path
    ):  # one document (or dataset): one error spoils it all
        try:
            yield from ((where, i, obj, json.dumps(obj)) for where, i, obj in iter_source(path))
        except RecordError as err:
            yield str(path), -1, err, None
        return
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj: Any = json.loads(line)
        except json.JSONDecodeError as err:
            obj = RecordError(f"malformed JSON line ({err.msg} at column {err.colno})")
        yield f"{path}:{lineno}", lineno - 1, obj, line


def image_problem(path: Path | str, pixels: bool, seen: dict[Path | str, tuple[str | None, tuple[int, int]]]):
    """(what is wrong or None, size) of an image file (or `datasets:` reference): it exists, its header decodes
    (all pixels if asked)."""
    if path in seen:
        return seen[path]
    size = (0, 0)
    if isinstance(path, str):  # a `datasets:` reference: the image is bytes in the dataset
        seen[path] = embedded_image_problem(path, pixels)
        return seen[path]
    if not path.is_file():
        result: str | None = f"image file not found: {path}"
    else:
        try:
            with Image.open(path) as image:
                size = image.size
                image.load() if pixels else image.verify()
            result = None
        except UnidentifiedImageError:
            with open(path, "rb") as handle:
                signed = handle.read(4).startswith(IMAGE_SIGNATURES)
            result = (
                f"truncated or corrupt image {path}: cannot identify it"
                if signed
                else f"not an image file: {path}"
            )
        except (OSError, SyntaxError, ValueError) as err:
            result = f"truncated or corrupt image {path}: {err}"
    seen[path] = (result, size)
    return seen[path]


def embedded_image_problem(reference: str, pixels: bool) -> tuple[str | None, tuple[int, int]]:
    """(what is wrong or None, size) of an image stored as bytes in a dataset (`datasets:` reference)."""
    try:
        with Image.open(io.BytesIO(embedded_image_bytes(reference, reference))) as image:
            size = image.size
            image.load() if pixels else image.verify()
        return None, size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return f"image bytes of {reference} do not decode: {err}", (0, 0)


def parse_all(path: Path, parse: Parse) -> tuple[list[tuple[str, Any]], list[Problem], dict[str, str]]:
    """Parse every record: (records with their where, the problems of those that fail, raw line per where)."""
    records, problems, raw = [], [], {}
    seen_ids: set[str] = set()
    for where, index, obj, line in scan(path):
        raw[where] = line
        record_id = str(obj.get("id", index)) if isinstance(obj, dict) else None
        if isinstance(obj, RecordError):
            problems.append(Problem(where, None, None, str(obj)))
            continue
        try:
            record = parse(obj, where, index)
        except RecordError as err:
            reason = str(err).removeprefix(f"{where}: ")
            problems.append(Problem(where, record_id, field_of(reason), reason))
            continue
        if record.id in seen_ids:
            problems.append(Problem(where, record.id, "id", "duplicate id"))
            continue
        seen_ids.add(record.id)
        records.append((where, record))
    return records, problems, raw


def run_checks(
    path: Path,
    records: list[tuple[str, Any]],
    image_root: Path,
    pixels: bool,
    extra: ExtraCheck | None,
    tokens: TokenCheck | None,
) -> tuple[list[Problem], dict[str, int]]:
    """The problems of parsed records (fields, images, then token counts of those still good) and lengths."""
    problems: list[Problem] = []
    good: list[tuple[str, Any, tuple[int, int]]] = []
    images: dict[Path | str, tuple[str | None, tuple[int, int]]] = {}
    steps = track(
        records,
        description=f"checking {path.name}",
        transient=True,
        disable=len(records) < PROGRESS_FROM,
    )
    for where, record in steps:
        found = [Problem(where, record.id, name, reason) for name, reason in (extra(record) if extra else [])]
        image = record.image if is_embedded_image(record.image) else image_root / record.image
        broken, size = image_problem(image, pixels, images)
        if broken:
            found.append(Problem(where, record.id, "image", broken))
        problems.extend(found)
        if not found:
            good.append((where, record, size))
    if tokens is None or not good:
        return problems, {}
    token_problems, lengths = tokens(good)
    return problems + token_problems, lengths


def checked_records(
    path: str | Path,
    parse: Parse,
    image_root: str | Path,
    *,
    on_bad_record: str = "error",
    rejects_dir: str | Path | None = None,
    pixels: bool = False,
    extra: ExtraCheck | None = None,
    tokens: TokenCheck | None = None,
    settings: dict[str, Any] | None = None,
    resume: str | None = None,
    skip_option: str = SKIP_OPTION,
) -> CheckedFile:
    """Check a data file (cached per version) and return its good records, or raise one `DataError` for all.

    `settings` holds what else the verdict depends on (e.g. max_length, the processor); `resume` is the
    command that resumes the run, named in the error when there is something to resume.
    """
    path = Path(path)
    if not path.is_file() and not is_dataset_source(path):
        raise FileNotFoundError(f"data file not found: {path}")
    image_root = Path(image_root)
    records, parse_problems, raw = parse_all(path, parse)
    settings = {**(settings or {}), "image_root": str(image_root.resolve()), "pixels": pixels}
    key = verdict_key(source_digest(path), settings)
    verdict = load_verdict(path, key)
    if verdict is None:
        problems, lengths = run_checks(path, records, image_root, pixels, extra, tokens)
        total = len(records) + len(parse_problems)
        verdict = Verdict(total, sorted(parse_problems + problems, key=_file_order(raw)), lengths)
        if Ranks().is_zero:  # every rank checks (read-only); one writes
            store_verdict(path, key, verdict)
    if not verdict.problems:
        return CheckedFile(records, verdict)
    target = rejects_path(Path(rejects_dir) if rejects_dir else path.parent, path)
    if Ranks().is_zero:
        write_rejects(target, verdict.problems, raw)
    if on_bad_record == "error":
        raise bad_records_error(path, verdict, target, resume, skip_option)
    bad = {p.where for p in verdict.problems}
    log.warning(
        "%s: dropped %d bad record(s) of %d (on_bad_record=skip; reasons in %s)",
        path,
        len(bad),
        verdict.records,
        target,
    )
    return CheckedFile([(w, r) for w, r in records if w not in bad], verdict, verdict.problems)


def _file_order(raw: dict[str, str]) -> Callable[[Problem], int]:
    order = {where: i for i, where in enumerate(raw)}
    return lambda problem: order.get(problem.where, -1)
