"""The preference record schema and readers for our JSONL, TRL's preference format and LLaVA-style JSON."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import warnings
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lightning_csr.errors import UserError


class RecordError(UserError, ValueError):
    """A preference file holds a record we cannot use; the message names the file and line."""


@dataclass
class PreferenceRecord:
    """One preference pair: `image` is relative to the data root, `prompt` is the raw user question."""

    id: str
    image: str
    prompt: str
    chosen: str
    rejected: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass
class ReadReport:
    """What a read kept and what it dropped (and why)."""

    records: list[PreferenceRecord]
    dropped_identical: list[str] = field(default_factory=list)


def strip_image_tag(text: str) -> str:
    """The user question without LLaVA's `<image>` placeholder."""
    return text.replace("<image>\n", "").replace("\n<image>", "").replace("<image>", "").strip()


# LLaVA's conversation wrappers, as CSR's released pairs hold them in the human turn (the full templated prompt):
# an optional Vicuna v1 system prompt ("user" or "human"), then `USER: <question> ASSISTANT:`.
_LLAVA_SYSTEM = (
    r"A chat between a curious (?:user|human) and an artificial intelligence assistant\.\s*"
    r"The assistant gives helpful, detailed, and polite answers to the (?:user|human)'s questions\."
)
_LLAVA_WRAPPED = re.compile(
    rf"\s*(?:{_LLAVA_SYSTEM})?\s*USER:\s*(?P<question>.*?)\s*(?:ASSISTANT:)?\s*", re.DOTALL
)


def llava_question(text: str) -> str:
    """The user question of a LLaVA human turn, without `<image>` and without a v1 template wrapped around it."""
    text = strip_image_tag(text)
    wrapped = _LLAVA_WRAPPED.fullmatch(text)
    return wrapped["question"] if wrapped else text


def _message_text(message: Any) -> str:
    """Text of a TRL/HF chat message whose content is a string or a list of typed blocks."""
    content = message["content"] if isinstance(message, dict) else message
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if block.get("type") == "text")


def _last_turn(messages: Any) -> str:
    return _message_text(messages[-1]) if isinstance(messages, list) else str(messages)


def parse_record(obj: dict[str, Any], where: str, index: int) -> PreferenceRecord:
    """Parse one JSON object in any supported format; errors name `where` (file:line)."""
    if not isinstance(obj, dict):
        raise RecordError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    try:
        if "conversations" in obj:  # LLaVA-style (CSR, POVID releases)
            conv, rejected_conv = obj["conversations"], obj["rejected_conversations"]
            prompt = llava_question(next(t["value"] for t in conv if t["from"] == "human"))
            chosen = next(t["value"] for t in reversed(conv) if t["from"] == "gpt")
            rejected = next(t["value"] for t in reversed(rejected_conv) if t["from"] == "gpt")
            image = obj["image"]
        elif "images" in obj or isinstance(obj.get("prompt"), list):  # TRL preference format
            prompt = strip_image_tag(_last_turn(obj["prompt"]))
            chosen, rejected = _last_turn(obj["chosen"]), _last_turn(obj["rejected"])
            images = obj.get("images") or [obj.get("image")]
            image = images[0]
        else:
            prompt, chosen, rejected, image = obj["prompt"], obj["chosen"], obj["rejected"], obj["image"]
    except KeyError as err:
        raise RecordError(f"{where}: missing field {err.args[0]!r}") from None
    except StopIteration:
        raise RecordError(f"{where}: conversation has no human/gpt turn") from None
    for name, value in (("prompt", prompt), ("chosen", chosen), ("rejected", rejected), ("image", image)):
        if not isinstance(value, str) or not value.strip():
            raise RecordError(f"{where}: field {name!r} is empty or not a string")
    record_id = str(obj.get("id", index))
    return PreferenceRecord(record_id, image, prompt, chosen.strip(), rejected.strip(), obj.get("meta") or {})


def pair_problems(record: PreferenceRecord) -> list[tuple[str, str]]:
    """(field, what is wrong) of a parsed pair beyond its fields: a rejected answer equal to the chosen one."""
    return [("rejected", "same text as chosen")] if record.chosen == record.rejected else []


def iter_json_objects(path: Path) -> Iterator[tuple[str, int, Any]]:
    """(location, index, object) of each record in a JSONL file or a JSON list; bad JSON names file:line."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise RecordError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
        if not isinstance(data, list):
            raise RecordError(f"{path}: expected a JSON list")
        for i, obj in enumerate(data):
            yield f"{path}: item {i}", i, obj
        return
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise RecordError(f"{path}:{lineno}: malformed JSON line ({err.msg})") from None
        yield f"{path}:{lineno}", lineno - 1, obj


def read_records(path: str | Path) -> ReadReport:
    """Read a preference file (.jsonl or .json) or dataset source (`hf_datasets`); identical chosen/rejected pairs
    are dropped and counted."""
    from lightning_csr.data.hf_datasets import is_dataset_source, iter_source  # it imports this module

    path = Path(path)
    if not path.is_file() and not is_dataset_source(path):
        raise FileNotFoundError(f"preference file not found: {path}")
    report = ReadReport(records=[])
    seen: set[str] = set()
    for where, index, obj in iter_source(path):
        record = parse_record(obj, where, index)
        if record.id in seen:
            raise RecordError(f"{where}: duplicate id {record.id!r}")
        seen.add(record.id)
        if record.chosen == record.rejected:
            report.dropped_identical.append(record.id)
            continue
        report.records.append(record)
    if report.dropped_identical:
        warnings.warn(
            f"{path}: dropped {len(report.dropped_identical)} pairs whose chosen equals rejected "
            f"(first: {report.dropped_identical[:5]})",
            stacklevel=2,
        )
    return report


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a file atomically: a temp file in the same directory, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_records(path: str | Path, records: Iterable[PreferenceRecord]) -> None:
    """Write records as JSONL atomically."""
    atomic_write_text(path, "".join(r.to_json() + "\n" for r in records))


_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def tokenizer_fingerprint(tokenizer) -> str:
    """Short digest of a tokenizer's vocabulary and special-token ids (stored token ids are valid only under it)."""
    size = len(tokenizer)
    cached = _FINGERPRINTS.get(tokenizer)
    if cached is not None and cached[0] == size:  # recomputed when tokens were added since
        return cached[1]
    specials = [getattr(tokenizer, f"{name}_token_id", None) for name in ("bos", "eos", "pad", "unk")]
    payload = json.dumps([sorted(tokenizer.get_vocab().items()), specials, sorted(tokenizer.all_special_ids)])
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
    _FINGERPRINTS[tokenizer] = (size, digest)
    return digest


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (the dataset version used by caches)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
