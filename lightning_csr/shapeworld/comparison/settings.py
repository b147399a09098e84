"""What `lightning-csr compare` runs: the methods, their configs and the budget they share."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

METHODS = ("base", "dpo", "povid", "tpo", "tpo_detached", "csr", "csr_lam0", "csr_code", "oracle")
# the config each trained method runs (tpo_detached: the TPO config with detach_weights: true)
CONFIG_OF_METHOD = {
    "dpo": "dpo",
    "povid": "povid",
    "tpo": "tpo",
    "tpo_detached": "tpo",
    "csr": "csr",
    "csr_lam0": "csr",
    "csr_code": "csr",
    "oracle": "csr",
}
# CSR's variants: a file stacked on the CSR config (lambda = 0, the released code's scoring, the exact oracle)
VARIANT_CONFIGS = {
    "csr_lam0": "configs/csr/lam0.yaml",
    "csr_code": "configs/csr/code.yaml",
    "oracle": "configs/csr/oracle.yaml",
}
CSR_METHODS = ("csr", *VARIANT_CONFIGS)


@dataclass
class ComparisonSettings:
    """What `compare` runs; paths are relative to the working directory."""

    data_dir: str = "data/shapeworld"
    out_dir: str = "runs/compare_shapeworld"
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    num_prompts: int = 256
    epochs: int = 2
    batch_size: int = 8
    lr: float = 2.0e-4
    lora_r: int = 16
    lora_alpha: int = 32
    beta: float = 0.1
    num_edits: int = 2
    seed: int = 0
    povid_noise_start_epoch: int = 1
    povid_text_weight: float = 0.5
    corruption_step: int = 500
    tpo_margin: float = 0.5
    csr_generation_batch_size: int = 32
    method_configs: dict[str, str] = field(
        default_factory=lambda: {m: f"configs/{m}/shapeworld.yaml" for m in ("dpo", "povid", "tpo", "csr")}
    )
    trainer_config: str = "configs/trainer/quiet.yaml"
    eval_split: str = "test"
    eval_scenes: int = 100
    # CSR and its variants: also evaluate on `eval_scenes` of `eval_split` before and after every iteration
    evaluate_iterations: bool = False
    # further LightningCLI arguments of CSR and its variants (e.g. a shorter search for a tiny run)
    csr_arguments: list[str] = field(default_factory=list)
    eval_batch_size: int = 50
    max_new_tokens: int = 64

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"methods: unknown {unknown}; known: {list(METHODS)}")
        missing = {CONFIG_OF_METHOD[m] for m in self.methods if m != "base"} - set(self.method_configs)
        if missing:
            raise ValueError(
                f"method_configs: no config for {sorted(missing)}; add e.g. `tpo: configs/tpo/shapeworld.yaml`"
            )

    @classmethod
    def load(cls, path: str | Path) -> ComparisonSettings:
        """Read a comparison YAML; an unknown key is an error naming it and the known ones."""
        values = yaml.safe_load(Path(path).read_text()) or {}
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            known = ", ".join(f.name for f in fields(cls))
            raise ValueError(f"{path}: unknown keys {unknown}; known: {known}")
        return cls(**values)
