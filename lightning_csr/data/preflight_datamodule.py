"""`PreflightedData`: the part of a DataModule that checks its files before the first step (see `preflight`).

Lightning runs `DataModule.setup(stage)` before the module's `setup`, which hands the DataModule its backbone
(`connect`); the check therefore runs at `connect`, once the processor is known and before the model is loaded.
A DataModule never connected is checked when its first dataloader is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning_csr.data.preflight import (
    CheckedFile,
    ExtraCheck,
    Parse,
    check_bad_record_action,
    checked_records,
)
from lightning_csr.data.preflight_tokens import Collate, processor_settings, token_check
from lightning_csr.errors import resume_command


class PreflightedData:
    """Mixin: `on_bad_record` (`error` or `skip`), `check_pixels`, and `preflight(...)` for a DataModule."""

    backbone: Any = None
    trainer: Any = None
    stage: str | None = None

    def init_preflight(self, on_bad_record: str, check_pixels: bool) -> None:
        self.on_bad_record = check_bad_record_action(on_bad_record)
        self.check_pixels = check_pixels
        self.dropped_bad: dict[str, int] = {}

    def stage_files(self, stage: str) -> Sequence[str | None]:
        """The files a stage reads (`fit`: train and validation)."""
        files = {"fit": ("train_file", "val_file"), "validate": ("val_file",), "test": ("test_file",)}
        return [getattr(self, name, None) for name in files.get(stage, ())]

    def check_files(self) -> None:
        """Check the current stage's files now (called once the backbone is connected)."""
        for path in self.stage_files(self.stage or ""):
            if path is not None:
                self.dataset(path)

    def setup(self, stage: str) -> None:
        self.stage = stage

    def preflight(
        self,
        path: str,
        parse: Parse,
        image_root: str | Path,
        extra: ExtraCheck | None = None,
        collate: Collate | None = None,
    ) -> CheckedFile:
        """Check `path` (token counts too when `collate` is given) and return its good records."""
        trainer = self.trainer
        resumable = trainer is not None and trainer.global_step > 0
        checked = checked_records(
            path,
            parse,
            image_root,
            on_bad_record=self.on_bad_record,
            rejects_dir=trainer.default_root_dir if trainer is not None else None,
            pixels=self.check_pixels,
            extra=extra,
            tokens=token_check(collate) if collate is not None else None,
            settings=processor_settings(self.backbone) if collate is not None else {},
            resume=resume_command() if resumable else None,
        )
        self.dropped_bad[path] = len(checked.dropped)
        return checked

    def dataset(self, path: str) -> Any:  # each DataModule defines it through `preflight`
        raise NotImplementedError
