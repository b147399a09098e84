"""What a pre-flight check found: problems per record, the cached verdict per file version, the rejects file."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lightning_csr.data.records import atomic_write_text
from lightning_csr.errors import UserError

log = logging.getLogger(__name__)

CHECKS_VERSION = 1  # bump when the checks change, so cached verdicts are redone
SHOWN_IN_ERROR = 3  # problems spelled out in the one-line error (the rejects file lists all)


class DataError(UserError):
    """A data file holds bad records; the message lists the first ones and names the file that lists them all."""


SKIP_OPTION = "data.init_args.on_bad_record"  # the setting that drops bad records (a DataModule's)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one record: where (`file:line`), its id, the field, and what is wrong."""

    where: str
    record_id: str | None
    field: str | None
    reason: str

    def describe(self) -> str:
        parts = [self.where]
        if self.record_id is not None:
            parts.append(f"record {self.record_id!r}")
        if self.field is not None and f"'{self.field}'" not in self.reason:
            parts.append(f"field {self.field!r}")
        return ": ".join([*parts, self.reason])


def field_of(message: str) -> str | None:
    """The field a record error names (`field 'chosen' ...`), if any."""
    found = re.search(r"field\(?s?\)? \[?'([^']+)'", message)
    return found[1] if found else None


@dataclass
class Verdict:
    """The problems of one file version (and the token length of each record checked with a processor, by `where`)."""

    records: int
    problems: list[Problem] = field(default_factory=list)
    lengths: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"version": CHECKS_VERSION, **asdict(self)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Verdict:
        data = json.loads(text)
        if data.pop("version", None) != CHECKS_VERSION:
            raise ValueError("stale verdict")
        return cls(data["records"], [Problem(**p) for p in data["problems"]], data["lengths"])


def verdict_key(digest: str, settings: dict[str, Any]) -> str:
    """The cache key of a file version checked under `settings` (image root, max_length, processor, ...)."""
    payload = json.dumps({"digest": digest, "settings": settings, "version": CHECKS_VERSION}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def verdict_path(path: Path, key: str) -> Path:
    return path.parent / ".preflight" / f"{path.name}.{key}.json"


def load_verdict(path: Path, key: str) -> Verdict | None:
    """The cached verdict of this file version, or None."""
    try:
        return Verdict.from_json(verdict_path(path, key).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_verdict(path: Path, key: str, verdict: Verdict) -> None:
    """Cache a verdict beside the data (atomically); a read-only data directory only costs a re-check."""
    try:
        atomic_write_text(verdict_path(path, key), verdict.to_json())
    except OSError as err:
        log.info("pre-flight verdict not cached beside %s (%s)", path, err)


def rejects_path(rejects_dir: Path, path: Path) -> Path:
    return rejects_dir / "rejects" / f"{path.name}.rejects.jsonl"


def write_rejects(target: Path, problems: list[Problem], raw: dict[str, str]) -> None:
    """JSONL, one bad record a line: where, id, field, reason and the record as written."""
    lines = [
        json.dumps({**asdict(p), "record": raw.get(p.where)}, ensure_ascii=False) + "\n" for p in problems
    ]
    atomic_write_text(target, "".join(lines))


def bad_records_error(
    path: Path, verdict: Verdict, rejects: Path, resume: str | None, skip_option: str = SKIP_OPTION
) -> DataError:
    """One line: how many bad records, the first few, where all are listed, and what to do."""
    problems = verdict.problems
    shown = " | ".join(p.describe() for p in problems[:SHOWN_IN_ERROR])
    more = f" | and {len(problems) - SHOWN_IN_ERROR} more" if len(problems) > SHOWN_IN_ERROR else ""
    message = (
        f"{path}: {len(problems)} bad record(s) of {verdict.records}: {shown}{more} (all listed in {rejects}); "
        f"fix them, or set {skip_option}=skip to train without them"
    )
    if resume:
        message += f"; finished iterations and checkpoints are kept: resume with `{resume}`"
    return DataError(message)
