"""The pre-flight check of an evaluation's own files, run before the model loads: every bad line at once."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lightning_csr.data.preflight import image_problem
from lightning_csr.data.records import RecordError
from lightning_csr.evaluation.benchmarks import BenchmarkOptions


def check_benchmark_files(options: BenchmarkOptions) -> None:
    """The benchmark's question files parse (POPE line by line, AMBER and MMHal-Bench as documents) and the
    images they name that exist open (missing ones are skipped by the benchmark, as before); an error lists
    every bad line or image."""
    if options.benchmark == "pope" and options.pope_file:
        from lightning_csr.evaluation.pope import read_pope_questions

        split = None if options.pope_split == "all" else options.pope_split
        questions = read_pope_questions(options.pope_file, split)
        if options.images_dir:
            named = ((f"question {q.question_id}", Path(options.images_dir) / q.image) for q in questions)
            check_images(options.pope_file, named)
    elif options.benchmark == "amber" and options.amber_dir:
        from lightning_csr.evaluation.amber.data import load_amber

        queries = load_amber(options.amber_dir, options.amber_split).queries
        if options.images_dir:
            named = ((f"query {q.id}", Path(options.images_dir) / q.image) for q in queries)
            check_images(options.amber_dir, named)
    elif options.benchmark == "mmhal" and options.mmhal_template and options.images_dir:
        from lightning_csr.evaluation.mmhal.data import load_mmhal

        items = load_mmhal(options.mmhal_template, options.images_dir).items
        check_images(options.mmhal_template, ((f"item {item.index}", item.image_path) for item in items))


def check_images(source: str | Path, named: Iterable[tuple[str, Path | None]]) -> None:
    """Open every existing image (header only); one error naming each distinct problem and where it shows."""
    seen: dict = {}
    broken: dict[str, str] = {}  # what is wrong with an image -> the first item that shows it
    for name, path in named:
        if (
            path is not None
            and Path(path).is_file()
            and (problem := image_problem(Path(path), False, seen)[0])
        ):
            broken.setdefault(problem, name)
    if broken:
        shown = " | ".join(f"{name}: {problem}" for problem, name in list(broken.items())[:3])
        more = f" | and {len(broken) - 3} more" if len(broken) > 3 else ""
        raise RecordError(f"{source}: {len(broken)} unreadable image(s): {shown}{more}")
