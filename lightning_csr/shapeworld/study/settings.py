"""What `lightning-csr shapeworld study` runs: the worlds, the methods, the two budgets and the candidates."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from lightning_csr.shapeworld.comparison.settings import CSR_METHODS, METHODS, ComparisonSettings

BUDGETS = ("equal", "best")
TRAINED = tuple(m for m in METHODS if m not in ("base", "tpo_detached"))


@dataclass
class StudySettings:
    """A study over independently built worlds; paths are relative to the working directory.

    World k is built with scene seed, model seed and co-occurrence-prior seed `world_seeds[k]`. The `equal`
    budget gives every method the same prompts and optimizer steps (`ComparisonSettings` fields); the `best`
    budget starts from `best` and, per method, takes the candidate (overrides of those fields) with the lowest
    CHAIR_S at recall >= `recall_floor` x the base's on world 0's val split, then applies it to every world.
    A CSR variant without candidates of its own takes CSR's choice.
    """

    out_dir: str = "runs/study"
    world_seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    scale: str = "full"
    methods: list[str] = field(default_factory=lambda: list(TRAINED))
    fact_rlhf: bool = True
    equal: dict[str, Any] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)
    candidates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    selection_scenes: int = 200
    eval_scenes: int = 500
    recall_floor: float = 0.9
    bootstrap_samples: int = 2000
    # torch threads of the study's process: 1 keeps results independent of the core count, and several
    # threads on a busy machine spin-wait (one thread evaluated 15x faster than two at a load of 4.5 here)
    threads: int = 1
    # Fact-RLHF: extra LightningCLI arguments of the reward-model and PPO fits, and rm-pairs' scene counts
    rm_arguments: list[str] = field(default_factory=list)
    ppo_arguments: list[str] = field(default_factory=list)
    rm_pairs: dict[str, int] = field(default_factory=lambda: {"n_train": 600, "n_val": 200})

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in TRAINED]
        if unknown:
            raise ValueError(f"methods: unknown {unknown}; known: {list(TRAINED)}")
        if len(self.world_seeds) < 1 or len(set(self.world_seeds)) != len(self.world_seeds):
            raise ValueError(f"world_seeds: give one or more distinct seeds, got {self.world_seeds}")
        for name in ("equal", "best"):
            self.comparison(name, "dpo", Path("."), where=name)  # an unknown field fails here, naming it
        for method, options in self.candidates.items():
            if method not in TRAINED:
                raise ValueError(f"candidates: unknown method {method!r}; known: {list(TRAINED)}")
            for index, option in enumerate(options):
                self.comparison("best", method, Path("."), option, where=f"candidates.{method}[{index}]")

    def comparison(
        self,
        budget: str,
        method: str,
        data: Path,
        overrides: dict[str, Any] | None = None,
        where: str = "settings",
    ) -> ComparisonSettings:
        """The `ComparisonSettings` that train `method` under `budget` in the world prepared at `data`."""
        known = {f.name for f in fields(ComparisonSettings)}
        values = {**(self.equal if budget == "equal" else self.best), **(overrides or {})}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{where}: unknown fields {unknown}; known: {sorted(known)}")
        return ComparisonSettings(
            **{
                **values,
                "data_dir": str(data),
                "methods": [method],
                "evaluate_iterations": method in CSR_METHODS,
                "eval_scenes": self.eval_scenes,
            }
        )

    def candidate_owner(self, method: str) -> str:
        """The method whose candidates choose `method`'s best settings (a CSR variant without its own: CSR)."""
        if method in self.candidates or method not in CSR_METHODS:
            return method
        return "csr"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, path: str | Path) -> StudySettings:
        """Read a study YAML; an unknown key is an error naming it and the known ones."""
        values = yaml.safe_load(Path(path).read_text()) or {}
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(
                f"{path}: unknown keys {unknown}; known: {', '.join(f.name for f in fields(cls))}"
            )
        return cls(**values)
