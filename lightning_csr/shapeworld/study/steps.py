"""Resumable study steps: each writes `<dir>/result.json` atomically when it finishes; a rerun reads it back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightning_csr.data.records import atomic_write_text


class Steps:
    """Runs named steps once; prints one progress line per step (`[k/total]`, done or skipped, seconds)."""

    def __init__(self, total: int) -> None:
        self.total, self.count = total, 0

    def run(self, name: str, directory: Path, work: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
        self.count += 1
        path = directory / "result.json"
        if path.is_file():
            print(f"[{self.count}/{self.total}] {name}: done before, skipped", flush=True)
            return json.loads(path.read_text())
        print(f"[{self.count}/{self.total}] {name} ...", flush=True)
        directory.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        result = work(directory)
        result["seconds"] = round(time.perf_counter() - start, 1)
        atomic_write_text(path, json.dumps(result))
        print(f"[{self.count}/{self.total}] {name}: {result['seconds']:.0f} s", flush=True)
        return result
