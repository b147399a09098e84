"""The `lightning-csr` CLI: fit then export round-trips; third-party notes are silenced."""

from __future__ import annotations

import sys

import pytest
import torch
from PIL import Image

from lightning_csr.cli import main
from lightning_csr.run_config import load_run
from tests.paths import REPO


def test_unknown_backbone_lists_known():
    from lightning_csr.backbones import build_backbone

    with pytest.raises(KeyError, match="known backbones: .*llava.*qwen2_vl"):
        build_backbone("llava-9000")


def test_fit_then_export_round_trip(tiny_llava_dir, pairs_dir, tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    config = REPO / "configs/dpo/tiny_cpu.yaml"
    run = tmp_path / "run"
    main(
        [
            "fit",
            "--config",
            str(config),
            f"--model.init_args.backbone.init_args.model_id={tiny_llava_dir}",
            f"--data.init_args.data_dir={pairs_dir}",
            f"--trainer.default_root_dir={run}",
            "--trainer.max_steps=2",
            "--trainer.enable_progress_bar=false",
        ]
    )
    (saved,) = run.rglob("config.yaml")
    (ckpt,) = run.rglob("*.ckpt")
    out = tmp_path / "export"
    main(["export", "--config", str(saved), "--ckpt_path", str(ckpt), "--out", str(out)])
    assert (out / "adapter" / "adapter_config.json").is_file()

    module = load_run(saved).model
    module.configure_model()
    module.load_state_dict(torch.load(ckpt, weights_only=False)["state_dict"], strict=False)
    processor = AutoProcessor.from_pretrained(out / "merged")
    inputs = processor(
        images=[Image.new("RGB", (16, 16), (200, 10, 10))],
        text=["USER: <image>\nhi ASSISTANT:"],
        return_tensors="pt",
    )
    inputs = dict(inputs)
    reloaded = AutoModelForImageTextToText.from_pretrained(out / "merged").eval()
    module.policy.eval()
    with torch.no_grad():
        expected = module.policy(**inputs).logits
        got = reloaded(**inputs).logits
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    base = AutoModelForImageTextToText.from_pretrained(tiny_llava_dir).eval()
    with torch.no_grad():
        assert not torch.allclose(base(**inputs).logits, expected), "training changed nothing"


def test_checkpoint_weights_only_note_is_silenced_and_other_notes_are_kept(caplog) -> None:
    import logging

    from lightning_csr.commands.third_party_notes import quiet_third_party_notes

    quiet_third_party_notes()
    log = logging.getLogger("lightning.pytorch.trainer.connectors.checkpoint_connector")
    with caplog.at_level(logging.INFO, logger=log.name):
        log.info("`weights_only` was not set, defaulting to `False`.")
        log.info("Restoring states from the checkpoint path at last.ckpt")
    assert [r.getMessage() for r in caplog.records] == [
        "Restoring states from the checkpoint path at last.ckpt"
    ]


def test_cloud_logger_tip_is_silenced_and_other_infos_are_kept(caplog) -> None:
    import logging

    from lightning.pytorch.utilities import rank_zero_info

    from lightning_csr.commands.third_party_notes import quiet_third_party_notes

    quiet_third_party_notes()
    with caplog.at_level(logging.INFO):
        rank_zero_info("💡 Tip: For seamless cloud logging, try installing [litlogger](https://pypi.org/)")
        rank_zero_info("GPU available: False, used: False")
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False, used: False"]


def test_manual_optimisation_checkpoint_advice_is_silenced_and_other_warnings_are_kept() -> None:
    import warnings

    from lightning.pytorch.utilities import rank_zero_warn

    from lightning_csr.commands.third_party_notes import quiet_third_party_notes

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_third_party_notes()
        rank_zero_warn("Using ModelCheckpoint with manual optimization and every_n_train_steps, but no ...")
        rank_zero_warn('.fit(ckpt_path="last") is set, but there is no last checkpoint available. No ...')
        rank_zero_warn("Something else went wrong")
    assert [str(w.message) for w in caught] == ["Something else went wrong"]


def test_command_line_run_reads_sys_argv_without_lightning_cli_args_warning(monkeypatch, capsys) -> None:
    import warnings

    config = REPO / "configs" / "csr" / "shapeworld.yaml"
    monkeypatch.setattr(sys, "argv", ["lightning-csr", "fit", "--config", str(config), "--print_config"])
    with warnings.catch_warnings(record=True) as caught, pytest.raises(SystemExit):
        warnings.simplefilter("always")
        main()
    assert "default_root_dir: runs/csr_shapeworld" in capsys.readouterr().out
    assert not [w for w in caught if "args parameter" in str(w.message)]
