"""`lightning-csr compare` trains every method from its YAML config with the comparison's values as overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lightning_csr.shapeworld.comparison.settings import ComparisonSettings
from lightning_csr.shapeworld.comparison.training import method_arguments
from tests.configs.instantiation import ROOT, instantiate, merged_config

MODULES = {
    "dpo": "PreferenceModule",
    "povid": "POVIDModule",
    "tpo": "TPOModule",
    "tpo_detached": "TPOModule",
    "csr": "CSRModule",
}


def _config(tmp_path: Path) -> ComparisonSettings:
    """Values unlike every method config's own, so that each override shows."""
    configs = {m: str(ROOT / "configs" / m / "shapeworld.yaml") for m in ("dpo", "povid", "tpo", "csr")}
    return ComparisonSettings(
        data_dir=str(tmp_path / "world"),
        num_prompts=5,
        epochs=3,
        batch_size=2,
        lr=1.5e-3,
        lora_r=4,
        lora_alpha=8,
        beta=0.25,
        seed=3,
        povid_noise_start_epoch=2,
        povid_text_weight=0.75,
        corruption_step=300,
        tpo_margin=0.125,
        csr_generation_batch_size=6,
        method_configs=configs,
        trainer_config=str(ROOT / "configs" / "trainer" / "quiet.yaml"),
    )


@pytest.mark.parametrize("method", sorted(MODULES))
def test_each_method_runs_its_config_with_the_shared_budget(method: str, tmp_path: Path) -> None:
    config = _config(tmp_path)
    pairs = tmp_path / "pairs.jsonl"
    cli = instantiate(method_arguments(method, config, pairs, tmp_path / "out"), None, on_cpu=False)
    model, trainer, merged = cli.model, cli.trainer, merged_config(cli)
    assert type(model).__name__ == MODULES[method]
    assert model.backbone.model_id == str(tmp_path / "world" / "base_model")
    assert (model.backbone.lora.r, model.backbone.lora.alpha, model.backbone.lora.dropout) == (4, 8, 0.0)
    optimizer = model.optimizer_factory([torch.nn.Parameter(torch.zeros(1))])
    assert optimizer.defaults["lr"] == 1.5e-3 and optimizer.defaults["weight_decay"] == 0.0
    assert merged["model"]["init_args"]["loss"]["beta"] == 0.25 and merged["seed_everything"] == 3
    assert trainer.max_epochs == 3 and trainer.reload_dataloaders_every_n_epochs == 1
    assert trainer.default_root_dir == str(tmp_path / "out" / method)
    assert (
        trainer.logger is None
        and not trainer.checkpoint_callbacks
        and trainer.fit_kwargs["ckpt_path"] is None
    )
    assert cli.datamodule.batch_size == 2
    ours = [c for c in trainer.callbacks if type(c).__module__.startswith("lightning_csr")]
    if method == "csr":
        regenerate, sync = ours
        assert type(sync).__name__ == "ReferenceSyncCallback"
        assert regenerate.prompts_file == tmp_path / "world" / "prompts" / "train.jsonl"
        assert (regenerate.num_prompts, regenerate.batch_size, regenerate.run_dir) == (5, 6, None)
        assert model.clip_model == str(tmp_path / "world" / "clip")
        return
    assert ours == [], "compare evaluates after training: no evaluation callbacks"
    assert cli.datamodule.train_file == str(pairs) and cli.datamodule.seed == 3
    if method != "dpo":
        assert (model.corruption.step, model.corruption.seed) == (300, 3)
    if method == "povid":
        assert (model.noise_start_epoch, model.text_weight) == (2, 0.75)
    if method.startswith("tpo"):
        assert model.margin == 0.125 and model.detach_weights == (method == "tpo_detached")


def test_a_comparison_yaml_with_an_unknown_key_names_it(tmp_path: Path) -> None:
    path = tmp_path / "compare.yaml"
    path.write_text("csr_config: configs/csr/shapeworld.yaml\n")
    with pytest.raises(ValueError, match=r"compare.yaml: unknown keys \['csr_config'\]; known: data_dir"):
        ComparisonSettings.load(path)


def test_the_shipped_comparison_config_loads_and_names_existing_configs() -> None:
    config = ComparisonSettings.load(ROOT / "configs" / "compare" / "shapeworld.yaml")
    for path in [*config.method_configs.values(), config.trainer_config]:
        assert (ROOT / path).is_file(), path


@pytest.mark.parametrize("method", ["csr_lam0", "csr_code", "oracle"])
def test_csr_variants_stack_their_file_and_evaluate_each_iteration_when_asked(
    method: str, tmp_path: Path, prepared: tuple[Path, dict]
) -> None:
    world = prepared[0]
    config = _config(tmp_path)
    config.data_dir = str(world)
    config.evaluate_iterations, config.eval_split, config.eval_scenes = True, "val", 7
    config.csr_arguments = ["--model.init_args.search.max_sentences=2"]
    cli = instantiate(
        method_arguments(method, config, tmp_path / "pairs.jsonl", tmp_path / "out"), None, on_cpu=False
    )
    model, trainer = cli.model, cli.trainer
    assert type(model).__name__ == "CSRModule" and trainer.default_root_dir == str(tmp_path / "out" / method)
    assert model.backbone.model_id == str(world / "base_model")
    assert model.search.max_sentences == 2
    if method == "csr_lam0":
        assert model.reward.lam == 0.0 and model.reward.mode == "paper"
    if method == "csr_code":
        assert model.reward.mode == "code" and model.search.strategy == "diverse_beam"
    if method == "oracle":
        assert model.ranker.data == world
    evaluation = [c for c in trainer.callbacks if type(c).__name__ == "ShapeWorldEvalCallback"]
    assert len(evaluation) == 1
    assert (evaluation[0].data_dir, evaluation[0].split, evaluation[0].num_scenes) == (world, "val", 7)
