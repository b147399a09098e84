"""Reference log-probs computed once per dataset version, reference and settings, stored beside the data."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader

from lightning_csr.data.provenance import backbone_settings, settings_digest
from lightning_csr.data.records import PreferenceRecord, tokenizer_fingerprint
from lightning_csr.distributed import Ranks, rank_slice

if TYPE_CHECKING:
    from lightning_csr.backbones.base import Backbone
    from lightning_csr.modules.base import PolicyModule


def cache_settings(backbone: Backbone, datamodule: Any, precision: str | None) -> dict[str, Any]:
    """Besides the data file and the reference weights, what changes cached reference log-probs.

    The backbone (class, dtype, quantisation, attention, model and processor files), the tokenizer, the
    trainer's precision and the data module's collator-side settings (image root, length limit).
    """
    image_root = getattr(datamodule, "image_root", None) or Path(datamodule.train_file).parent
    return {
        "backbone": backbone_settings(backbone),
        "tokenizer": tokenizer_fingerprint(backbone.tokenizer),
        "precision": str(precision),
        "image_root": str(Path(image_root).resolve()),
        "max_length": getattr(datamodule, "max_length", None),
        "on_too_long": getattr(datamodule, "on_too_long", None),
    }


class ReferenceLogpCache:
    """Maps record id -> (reference chosen log-prob, reference rejected log-prob)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, tuple[float, float]] = {}
        if path.is_file():
            self.values = torch.load(path, weights_only=True)

    @classmethod
    def for_data(
        cls, data_file: str, data_digest: str, reference_identity: str, settings: dict[str, Any]
    ) -> ReferenceLogpCache:
        """The cache of this data version under this reference and these settings (`cache_settings`)."""
        key = settings_digest({"reference": reference_identity, "settings": settings})
        return cls(Path(data_file).parent / f"ref_logps-{data_digest[:16]}-{key[:16]}.pt")

    def complete(self, records: Iterable[PreferenceRecord]) -> bool:
        return all(r.id in self.values for r in records)

    @torch.no_grad()
    def compute(self, module: PolicyModule, loader: DataLoader, ranks: Ranks | None = None) -> None:
        """Run the reference over every pair once and save the results atomically.

        On several ranks each computes every `world_size`-th batch, the values are gathered on every rank and
        rank 0 alone writes the file.
        """
        ranks = ranks or Ranks()
        rank, world_size = ranks.rank, ranks.world_size
        was_training = module.training
        module.eval()
        try:
            for batch in rank_slice(loader, rank, world_size):
                batch = module.transfer_batch_to_device(batch, module.device, 0)
                logps = module.reference_logps(batch).double().cpu().tolist()
                n = len(batch["ids"])
                for i, record_id in enumerate(batch["ids"]):
                    self.values[record_id] = (logps[i], logps[n + i])
        finally:
            module.train(was_training)
        for values in ranks.gather(self.values):
            self.values.update(values)
        if rank == 0:
            self.save()
        ranks.barrier("reference-cache")

    def save(self) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        os.close(fd)
        torch.save(self.values, tmp)
        os.replace(tmp, self.path)

    def lookup(self, ids: Sequence[str], device: torch.device) -> torch.Tensor | None:
        """[chosen..., rejected...] for a batch, or None if any id is missing."""
        if not all(i in self.values for i in ids):
            return None
        chosen = [self.values[i][0] for i in ids]
        rejected = [self.values[i][1] for i in ids]
        return torch.tensor(chosen + rejected, device=device)
