"""Content-hashed, resumable build stages: each writes into a temp dir, then renames its outputs into place."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lightning_csr.data.records import atomic_write_text

STAMP_DIR = ".stamps"
TEMP_DIR = ".tmp"
STAGE_VERSION = 1


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON (indented, keys sorted) atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


class PrepareError(RuntimeError):
    """A problem `prepare` cannot work around (unwritable output, bad config); the message says what to fix."""


def content_hash(data: Any) -> str:
    """SHA-256 of a JSON-serialisable value (keys sorted)."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def stage_key(name: str, inputs: Any) -> str:
    """The hash a stage's stamp must carry to be up to date for these inputs."""
    return content_hash({"stage": name, "version": STAGE_VERSION, "inputs": inputs})


def check_writable(out: Path) -> None:
    """Create `out` if needed and prove it is writable, or raise PrepareError."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-probe-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise PrepareError(f"output directory {out} is not writable: {err.strerror or err}") from err


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


class StageRunner:
    """Runs named stages under `out`; a stage whose inputs hash equals its stamp (and whose outputs exist) is skipped.

    A stage builds into `<out>/.tmp/<name>/` with the final layout; its old stamp is dropped, its outputs are
    moved into place with `os.replace`, and only then is the new stamp written. A kill at any point leaves
    either the old complete outputs with no valid stamp (rebuilt next run) or the new ones with their stamp.
    """

    def __init__(
        self, out: str | Path, on_event: Callable[[str, str], None] | None = None, clean: bool = True
    ) -> None:
        self.out = Path(out)
        check_writable(self.out)
        self.on_event = on_event or (lambda stage, event: None)
        self.ran: list[str] = []
        self.skipped: list[str] = []
        if clean:  # leftovers of a killed run; a runner in a helper process must not touch its parent's
            _remove(self.out / TEMP_DIR)

    def stamp_path(self, name: str) -> Path:
        return self.out / STAMP_DIR / f"{name}.json"

    def stamp(self, name: str) -> dict[str, Any] | None:
        """The stamp of a finished stage, or None."""
        path = self.stamp_path(name)
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def current_stamp(self, name: str, inputs: Any, outputs: Sequence[str]) -> dict[str, Any] | None:
        """The stage's stamp if it matches these inputs and all its outputs exist (it would be skipped)."""
        stamp = self.stamp(name)
        matches = bool(stamp) and stamp.get("hash") == stage_key(name, inputs)
        return stamp if matches and all((self.out / o).exists() for o in outputs) else None

    def skip_if_current(self, name: str, inputs: Any, outputs: Sequence[str]) -> dict[str, Any] | None:
        """The stage's stamp, recorded as skipped, if it is up to date; else None."""
        stamp = self.current_stamp(name, inputs, outputs)
        if stamp is not None:
            self.skipped.append(name)
            self.on_event(name, "skipped")
        return stamp

    def adopt(self, name: str, inputs: Any, outputs: Sequence[str]) -> dict[str, Any]:
        """Record a stage that a stage worker ran for this runner; its stamp must be current."""
        stamp = self.current_stamp(name, inputs, outputs)
        if stamp is None:
            raise PrepareError(f"stage {name!r}: the stage worker finished without current outputs")
        self.ran.append(name)
        self.on_event(name, "finished")
        return stamp

    def run(
        self, name: str, inputs: Any, outputs: Sequence[str], build: Callable[[Path], dict[str, Any] | None]
    ) -> dict[str, Any]:
        """Run `build(temp_dir)` unless up to date; returns the stage's stamp (hash, info, seconds)."""
        stamp = self.skip_if_current(name, inputs, outputs)
        if stamp is not None:
            return stamp
        self.on_event(name, "started")
        temp = self.out / TEMP_DIR / name
        _remove(temp)
        temp.mkdir(parents=True)
        start = time.perf_counter()
        try:
            info = build(temp) or {}
            missing = [o for o in outputs if not (temp / o).exists()]
            if missing:
                raise RuntimeError(f"stage {name!r} did not write {missing}")
            self.stamp_path(name).unlink(missing_ok=True)
            for output in outputs:
                target = self.out / output
                target.parent.mkdir(parents=True, exist_ok=True)
                _remove(target)
                os.replace(temp / output, target)
        finally:
            _remove(temp)
            if not any(temp.parent.iterdir()):
                temp.parent.rmdir()
        stamp = {
            "hash": stage_key(name, inputs),
            "info": info,
            "seconds": round(time.perf_counter() - start, 1),
        }
        write_json(self.stamp_path(name), stamp)
        self.ran.append(name)
        self.on_event(name, "finished")
        return stamp
