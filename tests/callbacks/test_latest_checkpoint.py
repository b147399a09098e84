"""`LatestCheckpoint` built the way LightningCLI builds it keeps only `last.ckpt`."""

from __future__ import annotations

from jsonargparse import ArgumentParser

from lightning_csr.callbacks import LatestCheckpoint


def built_by_the_cli(*args: str) -> LatestCheckpoint:
    parser = ArgumentParser()
    parser.add_class_arguments(LatestCheckpoint, "callback")
    return parser.instantiate(parser.parse_args(list(args))).callback


def test_cli_defaults_keep_only_last() -> None:
    callback = built_by_the_cli("--callback.dirpath=ckpts")
    assert callback.save_top_k == 0
    assert callback.save_last is True


def test_cli_can_still_ask_for_best_checkpoints() -> None:
    callback = built_by_the_cli(
        "--callback.dirpath=ckpts", "--callback.save_top_k=2", "--callback.monitor=val/loss"
    )
    assert callback.save_top_k == 2
