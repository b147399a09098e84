"""Digests of what produced stored generations (settings, data, weights) and the stamp that guards reuse.

A resumable run reuses what it finds on disk (CSR pair shards, PPO rollout chunks). That is only right when the
same settings and the same weights produced them; `ProducerStamp` records a digest beside them and refuses to
reuse them under another one, with an error that names the directory and how to start fresh.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from lightning_csr.data.records import atomic_write_text

STAMP_FILE = "producer.json"


class ProducerMismatchError(RuntimeError):
    """Stored generations were made by other settings or weights than the run's."""


def _plain(value: Any) -> Any:
    """A JSON-ready form of settings: dataclasses and paths become dicts and strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            # a field added later says `omit_at_default`: at its default it leaves earlier digests as they were
            if not (f.metadata.get("omit_at_default") and getattr(value, f.name) == f.default)
        }
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def settings_digest(settings: Any) -> str:
    """SHA-256 of settings (dataclasses, dicts, lists, scalars), independent of key order."""
    text = json.dumps(_plain(settings), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def tensors_digest(named: Iterable[tuple[str, torch.Tensor]]) -> str:
    """SHA-256 of named tensors' names, dtypes, shapes and bytes (sorted by name)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(named, key=lambda item: item[0]):
        value = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{value.dtype}|{tuple(value.shape)}".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


def trainable_digest(model: torch.nn.Module) -> str:
    """Digest of a model's trainable parameters (a LoRA policy: its adapter)."""
    return tensors_digest((n, p) for n, p in model.named_parameters() if p.requires_grad)


class ProducerStamp:
    """`<directory>/producer.json`: the digest of what produced the files in `directory`.

    Args:
        directory: where the stored generations live.
        what: what they are, for the error message (e.g. "CSR pair shards").
        how_to_start_fresh: the advice the error gives (e.g. "delete it or set another run directory").
    """

    def __init__(self, directory: str | Path, what: str, how_to_start_fresh: str) -> None:
        self.directory = Path(directory)
        self.what = what
        self.how_to_start_fresh = how_to_start_fresh

    @property
    def path(self) -> Path:
        return self.directory / STAMP_FILE

    def recorded(self) -> dict[str, Any] | None:
        """The stamp on disk, or None."""
        if not self.path.is_file():
            return None
        return json.loads(self.path.read_text())

    def claim(self, digest: str, described: dict[str, Any] | None = None) -> None:
        """Write the stamp for `digest`, or check that the one on disk has it (raise on a mismatch)."""
        recorded = self.recorded()
        if recorded is None:
            payload = {"digest": digest, "described": _plain(described or {})}
            atomic_write_text(self.path, json.dumps(payload, indent=1, sort_keys=True))
            return
        if recorded.get("digest") != digest:
            raise ProducerMismatchError(
                f"{self.directory}: holds {self.what} made by other settings or weights (digest "
                f"{str(recorded.get('digest'))[:12]}, this run {digest[:12]}); {self.how_to_start_fresh}"
            )


# ------------------------------------------------------------------ backbones
# settings that change memory or speed but not a single number the model computes
NUMERICALLY_INERT = ("gradient_checkpointing",)
# what a saved model, adapter or processor consists of (weights, configs, tokenizer files, remote code)
MODEL_FILE_SUFFIXES = (".safetensors", ".bin", ".pt", ".json", ".model", ".txt", ".jinja", ".tiktoken", ".py")
_FILE_DIGESTS: dict[tuple, str] = {}


def _model_files(root: Path) -> list[Path]:
    """A model directory's model files (no hidden paths, no producer stamp, no logs)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix in MODEL_FILE_SUFFIXES
        and p.name != STAMP_FILE
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def model_files_digest(source: str | Path | None) -> str | None:
    """SHA-256 of a local model directory's model files (names and bytes), None for a Hub id or no directory.

    Memoised per process on (path, names, sizes, modification times), so a run hashes its weights once.
    """
    if source is None or not Path(source).is_dir():
        return None
    root = Path(source).resolve()
    files = _model_files(root)
    key = (str(root), *((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    if key not in _FILE_DIGESTS:
        digest = hashlib.sha256()
        for path in files:
            digest.update(f"{path.relative_to(root)}|{path.stat().st_size}|".encode())
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 24):
                    digest.update(chunk)
        _FILE_DIGESTS[key] = digest.hexdigest()
    return _FILE_DIGESTS[key]


def backbone_settings(backbone: Any) -> dict[str, Any]:
    """What decides a backbone's numbers: class, constructor settings (dtype, quantisation, attention, LoRA, ...)
    and the digests of its local model and processor files; gradient checkpointing is left out."""
    settings = {
        name: value
        for name, value in vars(backbone).items()
        if not name.startswith("_") and name not in NUMERICALLY_INERT
    }
    files = {}
    for name in ("model_id", "processor_id"):
        files[name] = model_files_digest(settings.get(name))
        if files[name] is not None:  # a local directory is named by its content: a moved copy is the same
            settings.pop(name)
    return {
        "class": f"{type(backbone).__module__}.{type(backbone).__qualname__}",
        "settings": settings,
        **files,
    }
