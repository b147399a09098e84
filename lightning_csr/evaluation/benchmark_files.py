"""The pre-flight check of an evaluation's own files, run before the model loads: every bad line at once."""

from __future__ import annotations

from pathlib import Path

from lightning_csr.data.preflight import image_problem
from lightning_csr.data.records import RecordError
from lightning_csr.evaluation.benchmarks import BenchmarkOptions


def check_benchmark_files(options: BenchmarkOptions) -> None:
    """A POPE question file parses line by line and the images it names that exist open (missing ones are
    skipped by the benchmark, as before); errors list every bad line or image."""
    if not options.pope_file:
        return
    from lightning_csr.evaluation.pope import read_pope_questions

    split = None if options.pope_split == "all" else options.pope_split
    questions = read_pope_questions(options.pope_file, split)
    if not options.images_dir:
        return
    seen: dict = {}
    broken: dict[str, object] = {}  # what is wrong with an image -> the first question that shows it
    for question in questions:
        path = Path(options.images_dir) / question.image
        if path.is_file() and (problem := image_problem(path, False, seen)[0]):
            broken.setdefault(problem, question.question_id)
    if broken:
        shown = " | ".join(f"question {qid}: {problem}" for problem, qid in list(broken.items())[:3])
        more = f" | and {len(broken) - 3} more" if len(broken) > 3 else ""
        raise RecordError(f"{options.pope_file}: {len(broken)} unreadable image(s): {shown}{more}")
