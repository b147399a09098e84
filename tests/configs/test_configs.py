"""Every YAML under configs/ and every chain under callbacks/ builds through LightningCLI; variants stack to the
values they promise; the run directory is written once; every `class_path` has one spelling."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.configs.instantiation import ROOT, instantiate, merged_config, printed_config

CONFIGS = ROOT / "configs"
ALL_YAML = sorted(CONFIGS.rglob("*.yaml"))
CHAINS = sorted((ROOT / "callbacks").glob("*.yaml"))
PRESETS = set((CONFIGS / "trainer").glob("*.yaml"))
HARDWARE = ("accelerator", "devices", "precision")
# stacked after a method config: `--config BASE --config VARIANT`
VARIANTS = {
    CONFIGS / "csr" / name: CONFIGS / "csr" / "shapeworld.yaml"
    for name in ("lam0.yaml", "code.yaml", "oracle.yaml")
} | {CONFIGS / "csr" / "llava15_7b_qlora_8gpu.yaml": CONFIGS / "csr" / "llava15_7b_qlora.yaml"}
# settings files of other commands, each loaded by its own reader (clip.yaml: tests/shapeworld/test_clip.py,
# study/*.yaml: tests/shapeworld/study/test_study_settings.py)
SETTINGS = {
    CONFIGS / "compare" / "shapeworld.yaml",
    CONFIGS / "shapeworld" / "clip.yaml",
    *(CONFIGS / "study").glob("*.yaml"),
}
PARTS = {p for p in ALL_YAML if p.parent.name in ("backbone", "logger")} | PRESETS
METHOD_CONFIGS = sorted(set(ALL_YAML) - set(VARIANTS) - SETTINGS - PARTS)
# a config with no included files, used by tests as a run's saved config; presets and chains stack on it
TINY = CONFIGS / "dpo" / "tiny_cpu.yaml"


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _raw(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_every_yaml_is_a_method_config_variant_part_or_settings_file() -> None:
    for path in METHOD_CONFIGS:
        assert "class_path" in _raw(path).get("model", {}), f"{_name(path)}: not a LightningCLI config"
    assert {p.name for p in PARTS if p.parent.name == "backbone"}, "no backbone files found"


@pytest.mark.parametrize("config", METHOD_CONFIGS, ids=_name)
def test_method_config_instantiates_with_its_run_directory_in_one_place(config: Path, tmp_path: Path) -> None:
    cli = instantiate(["--config", str(config)], tmp_path)
    backbone = cli.model.backbone
    assert backbone.model_id or backbone.config
    trainer = cli.trainer
    assert trainer.default_root_dir == str(tmp_path)
    if trainer.logger is not None:
        assert trainer.logger.save_dir == str(tmp_path), "the logger does not follow default_root_dir"
    for callback in trainer.checkpoint_callbacks:  # Lightning's default one (no dirpath) follows the logger
        assert callback.dirpath in (None, str(tmp_path / "checkpoints")), (
            f"{type(callback).__name__}: fixed dirpath"
        )
    for directory in ("export_dir", "rollout_dir"):
        value = getattr(cli.model, directory, None)
        assert value is None or str(value).startswith(str(tmp_path)), f"{directory}: {value}"
    root_dir = _raw(config)["trainer"]["default_root_dir"]
    spelled = [v for v in _strings(_raw(config)) if root_dir in v]
    assert spelled == [root_dir], f"{_name(config)}: the run directory is spelled more than once: {spelled}"


def test_method_configs_hardware_lines_equal_a_trainer_preset() -> None:
    presets = [_raw(CONFIGS / "trainer" / f"{name}.yaml") for name in ("cpu", "gpu")]
    for config in METHOD_CONFIGS:
        trainer = _raw(config)["trainer"]
        hardware = {k: trainer[k] for k in HARDWARE if k in trainer}
        assert hardware in presets, (
            f"{_name(config)}: {hardware} is neither configs/trainer/cpu.yaml nor gpu.yaml"
        )


@pytest.mark.parametrize("chain", CHAINS, ids=_name)
def test_callback_chain_instantiates_in_order_under_the_run_directory(chain: Path, tmp_path: Path) -> None:
    cli = instantiate(["--config", str(TINY), "--trainer.callbacks", str(chain)], tmp_path)
    expected = [entry["class_path"].rsplit(".", 1)[1] for entry in _raw(chain)]
    built = [type(c).__name__ for c in cli.trainer.callbacks if type(c).__name__ in expected]
    assert built == expected
    for callback in cli.trainer.checkpoint_callbacks:
        assert callback.dirpath in (None, str(tmp_path / "checkpoints"))


def test_every_chain_and_part_is_used_by_a_config_or_documented_for_the_command_line() -> None:
    texts = "\n".join(p.read_text() for p in METHOD_CONFIGS)
    for path in [*CHAINS, *(p for p in PARTS if p not in PRESETS)]:
        own_line = f"{path.parent.name}/{path.name}" in path.read_text()  # its header names the command line
        named = f"/{path.parent.name}/{path.name}" in texts or own_line
        assert named, f"{_name(path)}: no config includes it and its header names no command line for it"


@pytest.mark.parametrize("backbone", sorted(p for p in PARTS if p.parent.name == "backbone"), ids=_name)
def test_backbone_file_swaps_in_with_one_argument(backbone: Path, tmp_path: Path) -> None:
    swap = [
        "--model.init_args.backbone=null",
        "--model.init_args.backbone",
        str(backbone),
    ]  # null: drop TINY's
    cli = instantiate(["--config", str(TINY), *swap], tmp_path)
    init_args = _raw(backbone)["init_args"]
    assert type(cli.model.backbone).__name__ == _raw(backbone)["class_path"].rsplit(".", 1)[1]
    assert cli.model.backbone.model_id == init_args.get("model_id", init_args.get("language_model"))
    assert cli.model.backbone.lora.r == init_args["lora"]["r"]


@pytest.mark.parametrize("preset", ["cpu", "quiet"])
def test_trainer_preset_merges_over_a_method_config(preset: str, tmp_path: Path) -> None:
    cli = instantiate(
        ["--config", str(TINY), "--trainer", str(CONFIGS / "trainer" / f"{preset}.yaml")], tmp_path
    )
    merged = merged_config(cli)["trainer"]
    assert merged["max_epochs"] == _raw(TINY)["trainer"]["max_epochs"], (
        "the method's own trainer keys are kept"
    )
    for key, value in _raw(CONFIGS / "trainer" / f"{preset}.yaml").items():
        assert merged[key] == value, key
    if preset == "quiet":
        assert cli.trainer.logger is None and not cli.trainer.checkpoint_callbacks
        assert cli.trainer.progress_bar_callback is None


def test_gpu_preset_moves_a_cpu_config_onto_one_gpu(capsys: pytest.CaptureFixture) -> None:
    gpu = CONFIGS / "trainer" / "gpu.yaml"
    # parsed only: this machine may have no GPU to build a Trainer on
    merged = printed_config(
        ["--config", str(CONFIGS / "csr" / "shapeworld.yaml"), "--trainer", str(gpu)], capsys
    )
    merged = merged["trainer"]
    assert {k: merged[k] for k in HARDWARE} == {"accelerator": "gpu", "devices": 1, "precision": "bf16-mixed"}
    assert merged["max_epochs"] == 3 and merged["reload_dataloaders_every_n_epochs"] == 1


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("lam0.yaml", {"model.init_args.reward.lam": 0.0}),
        (
            "oracle.yaml",
            {
                "model.init_args.ranker.class_path": "lightning_csr.shapeworld.study.ExactCountRanker",
                "model.init_args.ranker.init_args.data": "data/shapeworld",
                "model.init_args.ranker.init_args.split": "train",
            },
        ),
        (
            "code.yaml",
            {
                "model.init_args.search.strategy": "diverse_beam",
                "model.init_args.search.num_candidates": 5,
                "model.init_args.search.keep_top": 1,
                "model.init_args.reward.mode": "code",
                "model.init_args.reward.rt_mode": "mean_logp",
                "model.init_args.reward.guide": "lm",
                "model.init_args.reward.image_baseline": "none",
            },
        ),
    ],
)
def test_variant_stacked_changes_only_its_values_and_the_run_directory(
    variant: str, expected: dict[str, Any], capsys: pytest.CaptureFixture
) -> None:
    path = CONFIGS / "csr" / variant
    base = _flat(printed_config(["--config", str(VARIANTS[path])], capsys))
    stacked = _flat(printed_config(["--config", str(VARIANTS[path]), "--config", str(path)], capsys))
    root_dir = _raw(path)["trainer"]["default_root_dir"]
    moved = {
        "trainer.default_root_dir": root_dir,
        "trainer.logger.init_args.save_dir": root_dir,
        "trainer.callbacks.4.init_args.dirpath": f"{root_dir}/checkpoints",
    }
    changed = {k: v for k, v in stacked.items() if base.get(k) != v}
    assert changed == {**expected, **moved}
    assert len(_raw(path)) <= 3 and len(path.read_text().splitlines()) <= 12, "a variant is a few lines"


def test_every_class_path_is_a_package_export_with_one_spelling() -> None:
    import importlib

    spellings: dict[Any, set[str]] = defaultdict(set)
    for path in [*ALL_YAML, *CHAINS]:
        for class_path in _class_paths(_raw(path)):
            module_name, name = class_path.rsplit(".", 1)
            module = importlib.import_module(module_name)
            where = f"{_name(path)}: {class_path}"
            assert hasattr(module, "__path__"), f"{where}: name the package that exports it, not its module"
            assert name in getattr(module, "__all__", ()), (
                f"{where}: {module_name}.__all__ does not list {name}"
            )
            spellings[getattr(module, name)].add(class_path)
    assert spellings, "no class_path found"
    assert {cls: s for cls, s in spellings.items() if len(s) > 1} == {}


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def _class_paths(node: Any) -> list[str]:
    found = [node["class_path"]] if isinstance(node, dict) and "class_path" in node else []
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    return found + [c for child in children for c in _class_paths(child)]


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict | list) and node:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        return {k: v for key, value in items for k, v in _flat(value, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): node}


def test_the_8_gpu_recipe_keeps_the_1_gpu_recipe_s_pairs_per_step(capsys: pytest.CaptureFixture) -> None:
    """8 ranks x batch 1 x no accumulation = 1 GPU x batch 1 x 8 accumulated (`RankBatches` deals them out)."""
    path = CONFIGS / "csr" / "llava15_7b_qlora_8gpu.yaml"
    base = printed_config(["--config", str(VARIANTS[path])], capsys)
    stacked = printed_config(["--config", str(VARIANTS[path]), "--config", str(path)], capsys)
    per_step = [
        c["trainer"]["devices"]
        * c["trainer"]["accumulate_grad_batches"]
        * c["data"]["init_args"]["batch_size"]
        for c in (base, stacked)
    ]
    assert per_step == [8, 8] and stacked["trainer"]["strategy"] == "ddp"
    changed = {k: v for k, v in _flat(stacked).items() if _flat(base).get(k) != v}
    assert {k for k in changed if not k.startswith(("trainer.logger", "trainer.callbacks"))} == {
        "trainer.devices",
        "trainer.strategy",
        "trainer.accumulate_grad_batches",
        "trainer.default_root_dir",
    }


@pytest.mark.parametrize("preset", ["gpus", "nodes"])
def test_the_several_gpu_presets_stack_over_a_method_config(
    preset: str, capsys: pytest.CaptureFixture
) -> None:
    path = CONFIGS / "trainer" / f"{preset}.yaml"
    merged = printed_config(
        ["--config", str(CONFIGS / "csr" / "shapeworld.yaml"), "--trainer", str(path)], capsys
    )
    for key, value in _raw(path).items():
        assert merged["trainer"][key] == value, key
    assert merged["trainer"]["max_epochs"] == 3
