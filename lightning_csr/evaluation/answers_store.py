"""Append-only JSONL store of generated answers keyed by question id, safe to resume after a kill."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

AnswerId = int | str


class AnswerStore:
    """One JSON line per finished answer: {"id": ..., "record": {...}}; the last line for an id wins."""

    def __init__(self, path: str | Path, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._repaired = False

    def load(self) -> dict[AnswerId, dict[str, Any]]:
        """All stored records by id; a truncated last line (from a kill) is ignored."""
        if not self.path.exists():
            return {}
        records: dict[AnswerId, dict[str, Any]] = {}
        text = self.path.read_text(encoding="utf-8")
        *complete, tail = text.split("\n")
        for number, line in enumerate(complete, start=1):
            if line.strip():
                entry = self._parse(line, number)
                records[entry["id"]] = entry["record"]
        entry = _whole_entry(tail)  # text after the last newline: a torn write unless it parses
        if entry is not None:
            records[entry["id"]] = entry["record"]
        return records

    def done_ids(self) -> set[AnswerId]:
        """Ids that already have an answer."""
        return set(self.load())

    def append(self, answer_id: AnswerId, record: dict[str, Any]) -> None:
        """Write one answer durably (flushed) as a single line."""
        if not isinstance(answer_id, int | str) or isinstance(answer_id, bool):
            raise TypeError(f"answer id must be int or str, got {type(answer_id).__name__}")
        line = json.dumps({"id": answer_id, "record": record}, ensure_ascii=False) + "\n"
        with self._lock:
            self._drop_torn_tail()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())

    def _drop_torn_tail(self) -> None:
        """Cut a partial last line left by a crash so the next append starts on a fresh line."""
        if self._repaired or not self.path.exists():
            self._repaired = True
            return
        with self.path.open("rb+") as handle:
            data = handle.read()
            cut = data.rfind(b"\n") + 1
            if cut < len(data):
                if _whole_entry(data[cut:].decode("utf-8", errors="replace")) is None:
                    handle.truncate(cut)
                else:
                    handle.write(b"\n")
        self._repaired = True

    def _parse(self, line: str, number: int) -> dict[str, Any]:
        """Decode one complete line; damage in the middle of the file is an error naming file:line."""
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{self.path}:{number}: corrupt answer line ({error.msg})") from error
        if not isinstance(entry, dict) or "id" not in entry or "record" not in entry:
            raise ValueError(f"{self.path}:{number}: expected an object with 'id' and 'record'")
        return entry


def _whole_entry(text: str) -> dict[str, Any] | None:
    """The entry encoded by `text` if it is complete and well-formed, else None."""
    try:
        entry = json.loads(text)
    except json.JSONDecodeError:
        return None
    return entry if isinstance(entry, dict) and "id" in entry and "record" in entry else None
