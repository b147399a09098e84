"""SFT: records, the DataModule, the module's loss going down, and configs/shapeworld/sft.yaml."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

from lightning_csr.backbones import LlavaBackbone
from lightning_csr.data.records import RecordError
from lightning_csr.data.sft import SFTCollator, SFTDataModule, SFTRecord, read_sft_records, write_sft_records
from lightning_csr.modules.sft import SFTModule
from lightning_csr.shapeworld import Scene, WorldSettings, processor_spec, render_scene
from lightning_csr.shapeworld.build.sft_data import image_path, sft_records
from lightning_csr.shapeworld.models.clip import CLIPSettings
from lightning_csr.shapeworld.models.vlm import VLMSettings, base_vlm_config
from tests.paths import REPO
from tests.trainer import quiet_trainer

ROOT = REPO
TINY = VLMSettings(text_hidden=64, text_intermediate=128, text_layers=1, text_heads=2)
TINY_VISION = CLIPSettings(
    patch_size=8, vision_hidden=32, vision_intermediate=64, vision_layers=1, heads=2, projection_dim=32
)


@pytest.fixture(scope="module")
def sft_root(tmp_path_factory: pytest.TempPathFactory, world: WorldSettings, scenes: list[Scene]) -> Path:
    """A data root with 4 scenes' images and their SFT files."""
    root = tmp_path_factory.mktemp("sft")
    (root / "images" / "train").mkdir(parents=True)
    for scene in scenes[:4]:
        render_scene(scene, world).save(root / image_path("train", scene.id))
    records = sft_records(scenes[:4], world, "train")
    write_sft_records(root / "sft" / "train.jsonl", records)
    write_sft_records(root / "sft" / "val.jsonl", records[:3])
    return root


def test_sft_records_roundtrip_and_errors(tmp_path: Path, sft_root: Path) -> None:
    records = read_sft_records(sft_root / "sft" / "train.jsonl")
    kinds = {r.id.split("-")[2] for r in records}
    assert kinds == {"describe", "exists", "attribute"}
    assert any(r.response.startswith("Yes,") for r in records) and any(
        r.response.startswith("No,") for r in records
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "image": "x.png", "prompt": "q"}\n')
    with pytest.raises(RecordError, match="bad.jsonl:1.*response"):
        read_sft_records(bad)
    write_sft_records(bad, [SFTRecord("a", "x.png", "q", "r"), SFTRecord("a", "x.png", "q", "r")])
    with pytest.raises(RecordError, match="duplicate id"):
        read_sft_records(bad)


def _module(processor_dir: Path, lr: float) -> SFTModule:
    spec = processor_spec(LlavaBackbone(model_id=str(processor_dir)).processor)
    backbone = LlavaBackbone(
        config=base_vlm_config(spec, TINY, TINY_VISION),
        processor_id=str(processor_dir),
        train_vision_tower=True,
        train_projector=True,
    )
    from lightning_csr.modules.components.schedules import Constant

    return SFTModule(backbone, optimizer=lambda p: torch.optim.AdamW(p, lr=lr), scheduler=Constant)


def test_sft_loss_decreases_and_only_completion_counts(processor_dir: Path, sft_root: Path) -> None:
    L.seed_everything(0, verbose=False)
    module = _module(processor_dir, lr=1e-2)
    data = SFTDataModule(str(sft_root / "sft" / "train.jsonl"), batch_size=4, shuffle=False)
    data.connect(module.backbone)
    dataset = data.dataset(data.train_file)
    batch = SFTCollator(module.backbone)([dataset[i] for i in range(4)])
    assert batch["completion_mask"].sum() < batch["attention_mask"].sum()
    module.configure_model()
    assert all(p.requires_grad for p in module.policy.parameters())

    def loss() -> float:
        with torch.no_grad():
            out = module.forward_logps(module.policy, batch)
        return float(-out["logps"].sum() / out["counts"].sum())

    before = loss()
    dataset.records = dataset.records[:4]  # one batch, the same every step
    trainer = quiet_trainer(max_steps=12)
    trainer.fit(module, datamodule=data)
    assert "train/loss" in trainer.callback_metrics
    assert loss() < before * 0.7


def test_vision_init_copies_the_clip_vision_tower(
    processor_dir: Path, world: WorldSettings, tmp_path: Path
) -> None:
    from transformers import AutoProcessor, CLIPModel

    from lightning_csr.shapeworld.models.clip import build_clip_processor, clip_config

    clip_processor = build_clip_processor(
        AutoProcessor.from_pretrained(str(processor_dir)).tokenizer, world, tmp_path
    )
    clip = CLIPModel(clip_config(clip_processor, world, TINY_VISION))
    clip.save_pretrained(str(tmp_path))
    module = _module(processor_dir, lr=1e-3)
    module.vision_init = str(tmp_path)
    module.configure_model()
    tower = module.policy.model.vision_tower.state_dict()
    assert all(torch.equal(tower[k], v) for k, v in clip.vision_model.state_dict().items())
    wrong = _module(processor_dir, lr=1e-3)
    wrong.backbone.config = {
        **wrong.backbone.config,
        "vision_config": {**wrong.backbone.config["vision_config"], "hidden_size": 64},
    }
    wrong.vision_init = str(tmp_path)
    with pytest.raises(ValueError, match="does not match"):
        wrong.configure_model()


@pytest.fixture(scope="module")
def full_processor_dir(
    world: WorldSettings, scenes: list[Scene], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A processor whose patch size is the default CLIP's (what sft.yaml expects)."""
    from lightning_csr.shapeworld import build_processor, world_corpus

    out = tmp_path_factory.mktemp("full_processor")
    build_processor(world, world_corpus(world, scenes), out, patch_size=CLIPSettings().patch_size)
    return out


def test_sft_yaml_matches_code_and_runs(full_processor_dir: Path, sft_root: Path, tmp_path: Path) -> None:
    from lightning_csr.cli import main

    config = yaml.safe_load((ROOT / "configs" / "shapeworld" / "sft.yaml").read_text())
    module_args = config["model"]["init_args"]
    backbone = module_args["backbone"]["init_args"]
    spec = processor_spec(LlavaBackbone(model_id=str(full_processor_dir)).processor)
    assert backbone["config"] == base_vlm_config(spec, VLMSettings(), CLIPSettings())
    assert backbone["lora"] is None and not backbone["train_vision_tower"] and backbone["train_projector"]
    assert module_args["vision_init"] == "data/shapeworld/vision"
    main(
        [
            "fit",
            "--config",
            str(ROOT / "configs" / "shapeworld" / "sft.yaml"),
            f"--model.init_args.backbone.init_args.processor_id={full_processor_dir}",
            "--model.init_args.vision_init=null",
            f"--data.init_args.train_file={sft_root / 'sft' / 'train.jsonl'}",
            f"--data.init_args.val_file={sft_root / 'sft' / 'val.jsonl'}",
            f"--data.init_args.image_root={sft_root}",
            "--data.init_args.batch_size=2",
            "--trainer.fast_dev_run=1",
            f"--trainer.default_root_dir={tmp_path}",
        ]
    )


def test_sft_yaml_training_values_are_the_builds_defaults() -> None:
    from lightning_csr.shapeworld.models.vlm import SFTSettings

    config = yaml.safe_load((ROOT / "configs" / "shapeworld" / "sft.yaml").read_text())
    module, data = config["model"]["init_args"], config["data"]["init_args"]
    settings = SFTSettings()
    assert config["seed_everything"] == settings.seed
    assert config["trainer"]["max_steps"] == settings.max_steps
    assert module["optimizer"]["init_args"] == {"lr": settings.lr, "weight_decay": settings.weight_decay}
    assert module["scheduler"]["init_args"] == {"warmup_ratio": settings.warmup_ratio}
    assert data["batch_size"] == settings.batch_size
    assert data.get("group_by_length", False) == settings.group_by_length


@pytest.mark.parametrize("vision_init", [None, "some/clip"])
def test_the_builds_sft_is_sft_yaml_with_its_settings(
    processor_dir: Path, tmp_path: Path, vision_init
) -> None:
    from lightning_csr.shapeworld.models.vlm import SFTSettings, sft_arguments
    from tests.configs.instantiation import instantiate, merged_config

    spec = processor_spec(LlavaBackbone(model_id=str(processor_dir)).processor)
    config = base_vlm_config(spec, TINY, TINY_VISION)
    settings = SFTSettings(max_steps=7, batch_size=3, lr=1e-2, weight_decay=0.5, warmup_ratio=0.2, seed=4)
    args = sft_arguments(config, processor_dir, tmp_path / "data", settings, tmp_path, vision_init)
    cli = instantiate(args, tmp_path, on_cpu=False)
    module, data, trainer = cli.model, cli.datamodule, cli.trainer
    assert module.backbone.config == config and module.backbone.processor_id == str(processor_dir)
    assert module.backbone.lora is None and module.backbone.train_projector
    assert module.backbone.train_vision_tower == (vision_init is None) and module.vision_init == vision_init
    optimizer = module.optimizer_factory([torch.nn.Parameter(torch.zeros(1))])
    assert optimizer.defaults["lr"] == 1e-2 and optimizer.defaults["weight_decay"] == 0.5
    assert module.scheduler_factory(optimizer, 100).warmup_steps == 20
    assert data.train_file == str(tmp_path / "data" / "sft" / "train.jsonl") and data.val_file is None
    assert (data.image_root, data.batch_size, data.seed) == (tmp_path / "data", 3, 4)
    assert trainer.max_steps == 7 and trainer.logger is None and not trainer.checkpoint_callbacks
    assert merged_config(cli)["seed_everything"] == 4
    assert type(trainer.accelerator).__name__ == "CPUAccelerator"
