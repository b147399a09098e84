"""Cached reference log-probs are keyed by everything that changes them, so a changed config never reuses one."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import lightning as L
import pytest

from lightning_csr.backbones import LlavaBackbone, LoraSettings
from lightning_csr.data import PreferenceDataModule
from lightning_csr.modules import PreferenceModule
from lightning_csr.modules.components.reference_cache import ReferenceLogpCache, cache_settings
from tests.trainer import quiet_trainer

LORA = LoraSettings(r=4, alpha=8)


def cache_path(model_dir, pairs_dir, precision="32-true", data=None, **backbone_kwargs):
    """Where a run with these settings keeps its reference log-probs (same data, reference `adapter_off`)."""
    backbone = LlavaBackbone(model_id=str(model_dir), **{"lora": LORA, **backbone_kwargs})
    data = data or SimpleNamespace(
        train_file=str(pairs_dir / "pairs.jsonl"), image_root=None, max_length=None
    )
    settings = cache_settings(backbone, data, precision)
    return ReferenceLogpCache.for_data(data.train_file, "d" * 64, "adapter_off|llava", settings).path


def test_key_covers_backbone_precision_data_settings_and_model_files(tiny_llava_dir, pairs_dir, tmp_path):
    base = cache_path(tiny_llava_dir, pairs_dir)
    assert cache_path(tiny_llava_dir, pairs_dir) == base
    assert cache_path(tiny_llava_dir, pairs_dir, gradient_checkpointing=True) == base  # memory only
    train_file = str(pairs_dir / "pairs.jsonl")
    changed = {
        "dtype": cache_path(tiny_llava_dir, pairs_dir, dtype="bfloat16"),
        "attention": cache_path(tiny_llava_dir, pairs_dir, attn_implementation="eager"),
        "lora": cache_path(tiny_llava_dir, pairs_dir, lora=LoraSettings(r=8, alpha=8)),
        "precision": cache_path(tiny_llava_dir, pairs_dir, precision="bf16-mixed"),
        "max_length": cache_path(
            tiny_llava_dir,
            pairs_dir,
            data=SimpleNamespace(train_file=train_file, image_root=None, max_length=64),
        ),
        "image_root": cache_path(
            tiny_llava_dir,
            pairs_dir,
            data=SimpleNamespace(train_file=train_file, image_root=str(tmp_path), max_length=None),
        ),
    }
    copy = shutil.copytree(tiny_llava_dir, tmp_path / "copy")
    assert cache_path(copy, pairs_dir) == base  # a copy of the same files is the same model
    (copy / "train.log").write_text("not a model file")
    (copy / "producer.json").write_text("{}")
    assert cache_path(copy, pairs_dir) == base
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one byte of the last tensor
    weights.write_bytes(bytes(data))
    changed["model_files"] = cache_path(copy, pairs_dir)
    reused = [name for name, path in changed.items() if path == base]
    assert not reused, f"a changed {reused} would reuse the cache"


@pytest.mark.parametrize(
    ("backbone_kwargs", "data_kwargs"),
    [({"attn_implementation": "eager"}, {}), ({}, {"max_length": 10_000})],
    ids=["attention", "max_length"],
)
def test_changed_config_recomputes_the_cache(
    tiny_llava_dir, pairs_dir, monkeypatch, backbone_kwargs, data_kwargs
):
    calls = []
    original = PreferenceModule.reference_logps
    monkeypatch.setattr(
        PreferenceModule, "reference_logps", lambda self, b: calls.append(1) or original(self, b)
    )

    def fit(**kwargs) -> None:
        backbone = LlavaBackbone(model_id=str(tiny_llava_dir), lora=LORA, **kwargs.pop("backbone", {}))
        module = PreferenceModule(backbone, cache_reference=True)
        data = PreferenceDataModule(data_dir=str(pairs_dir), batch_size=4, shuffle=False, **kwargs)
        L.seed_everything(0)
        trainer = quiet_trainer(max_steps=1)
        trainer.fit(module, data)

    fit()
    assert calls and len(list(pairs_dir.glob("ref_logps-*.pt"))) == 1
    calls.clear()
    fit()
    assert calls == []  # the same config reuses it
    fit(backbone=backbone_kwargs, **data_kwargs)
    assert calls, "a changed config reused the cache"
    assert len(list(pairs_dir.glob("ref_logps-*.pt"))) == 2
