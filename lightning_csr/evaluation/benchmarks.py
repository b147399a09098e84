"""The benchmarks of `lightning-csr evaluate` and `EvaluationCallback`: a registry, their options, one result shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from lightning_csr.evaluation.amber.benchmark import run_amber
from lightning_csr.evaluation.cached_generation import CachedGenerator
from lightning_csr.evaluation.standard_benchmarks import run_chair, run_mmhal, run_pope


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: how it runs over a `CachedGenerator`, its default answer budget, the options it reads.

    Args:
        run: `(options, generate) -> {"metrics", "details", "skipped"?, "notes"?}`.
        max_new_tokens: the answer budget when `max_new_tokens` is not set.
        options: the `BenchmarkOptions` fields it reads (kept with its result).
        num_items_flag: the command-line flag of `lightning-csr evaluate` that sets `num_items`.
    """

    run: Callable[[BenchmarkOptions, CachedGenerator], dict[str, Any]]
    max_new_tokens: int
    options: tuple[str, ...] = ()
    num_items_flag: str = "--num-images"


ENTRY_POINT_GROUP = "lightning_csr.benchmarks"  # installed packages add benchmarks here (ShapeWorld's is one)

# the core's benchmarks; `benchmarks()` adds the installed ones, `register_benchmark` any other
BENCHMARKS: dict[str, Benchmark] = {
    "chair": Benchmark(run_chair, 512, ("coco_instances", "coco_captions", "images_dir", "chair_vocabulary")),
    "pope": Benchmark(
        run_pope,
        32,
        ("coco_instances", "coco_captions", "images_dir", "pope_file", "pope_split", "pope_parser"),
    ),
    "amber": Benchmark(run_amber, 512, ("amber_dir", "images_dir", "amber_split", "amber_parser")),
    "mmhal": Benchmark(
        run_mmhal,
        512,
        ("mmhal_template", "mmhal_evaluator", "images_dir", "judge_base_url", "judge_model", "judge_key_env"),
    ),
}


def register_benchmark(name: str, benchmark: Benchmark) -> None:
    """Make `name` a benchmark of `lightning-csr evaluate` and `EvaluationCallback` (replaces an earlier one)."""
    BENCHMARKS[name] = benchmark


@cache
def installed_benchmarks() -> dict[str, Benchmark]:
    """The benchmarks installed packages declare as entry points of the `lightning_csr.benchmarks` group
    (`name = "package.module:BENCHMARK"`), read once per process."""
    return {entry.name: entry.load() for entry in entry_points(group=ENTRY_POINT_GROUP)}


def benchmarks() -> dict[str, Benchmark]:
    """Every benchmark: the installed ones, then the core's and the registered ones (which take precedence)."""
    return {**installed_benchmarks(), **BENCHMARKS}


@dataclass
class BenchmarkOptions:
    """What to evaluate on. Paths are the user's local benchmark files; `num_items` takes a seeded subset.

    Args:
        benchmark: a registered benchmark: chair, pope, amber, mmhal, or one a testbed registered (shapeworld).
        coco_instances / coco_captions: COCO `instances_val2014.json` / `captions_val2014.json` (chair, pope).
        images_dir: COCO val2014 images (chair, pope), AMBER images (amber) or MMHal-Bench images (mmhal).
        pope_file: an existing POPE question file (JSONL); otherwise questions are built from `coco_instances`.
        pope_split: random, popular, adversarial, or all (three split files built from the annotations).
        chair_vocabulary: "released" (the CHAIR authors' synonym list and rules, comparable with papers) or
            "extended" (our longer list; not comparable).
        pope_parser: "released" (POPE's released answer rule, comparable with papers) or "strict" (ours:
            answers that say neither yes nor no are unparsed and counted wrong).
        amber_dir / amber_split: AMBER's `data/` folder (query/, annotations.json, relation.json, safe_words.txt)
            and the query file: all, generative, discriminative, existence, attribute or relation.
        amber_parser: "first_word" (a reply's first word is its Yes/No) or "exact" (AMBER's literal comparison).
        mmhal_template: MMHal-Bench `response_template.json`.
        mmhal_evaluator: MMHal-Bench's `eval_gpt4.py`: its prompt and rating rule are read (not run) and used
            instead of our own wording, so the scores compare with papers.
        judge_base_url / judge_model / judge_key_env: OpenAI-compatible judge; the key is read from the env var.
        data / split: a prepared data directory and the split evaluated (shapeworld).
        num_items: images (chair, pope), queries per task (amber), items (mmhal) or scenes (shapeworld);
            None = the benchmark's default.
        max_new_tokens: None = the benchmark's default (chair 512, pope 32, amber 512, mmhal 512, shapeworld 64).
        answer_tokens: budget of short answers (shapeworld's POPE and attribute questions, amber's yes/no).
    """

    benchmark: str
    coco_instances: str | None = None
    coco_captions: str | None = None
    images_dir: str | None = None
    pope_file: str | None = None
    pope_split: str = "all"
    chair_vocabulary: str = "released"
    pope_parser: str = "released"
    amber_dir: str | None = None
    amber_split: str = "all"
    amber_parser: str = "first_word"
    mmhal_template: str | None = None
    mmhal_evaluator: str | None = None
    judge_base_url: str | None = None
    judge_model: str | None = None
    judge_key_env: str | None = "OPENAI_API_KEY"
    judge_cache: str | None = None
    data: str = "data/shapeworld"
    split: str = "test"
    num_items: int | None = None
    batch_size: int = 16
    max_new_tokens: int | None = None
    answer_tokens: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if self.benchmark not in benchmarks():
            raise ValueError(
                f"unknown benchmark {self.benchmark!r}; known: {', '.join(benchmarks())} (a package adds one "
                f"as an entry point of the `{ENTRY_POINT_GROUP}` group, code with `register_benchmark`)"
            )
        if self.num_items is not None and self.num_items < 1:
            raise ValueError(f"num_items must be >= 1, got {self.num_items}")

    @property
    def budget(self) -> int:
        return self.max_new_tokens or benchmarks()[self.benchmark].max_new_tokens

    def require(self, *names: str) -> list[Path]:
        """The named path options as Paths; a missing one is an error naming its command-line flag."""
        missing = [name for name in names if not getattr(self, name)]
        if missing:
            flags = ", ".join("--" + name.replace("_", "-") for name in missing)
            raise ValueError(f"--benchmark {self.benchmark} needs {flags}")
        return [Path(getattr(self, name)) for name in names]


def run_benchmark(options: BenchmarkOptions, generate: CachedGenerator) -> dict[str, Any]:
    """{"metrics": {name: number}, "details": ..., "skipped": [...], "notes": [...]} for one benchmark."""
    benchmark = benchmarks()[options.benchmark]
    result = benchmark.run(options, generate)
    result.setdefault("skipped", [])
    result.setdefault("notes", [])
    relevant = set(benchmark.options) | {"benchmark", "num_items", "batch_size", "seed"}
    result["options"] = {k: v for k, v in asdict(options).items() if v is not None and k in relevant}
    result["options"]["max_new_tokens"] = options.budget
    result["notes"] += unparsed_notes(result["metrics"])
    return result


def unparsed_notes(metrics: dict[str, Any], threshold: float = 0.2) -> list[str]:
    """Warn when many answers could not be parsed: their metrics then say little about the model."""
    return [
        f"{value:.0%} of the answers behind {key.rsplit('/', 1)[0]} could not be parsed (counted as wrong)"
        for key, value in metrics.items()
        if key.endswith("unparsed") and isinstance(value, float) and value > threshold
    ]
