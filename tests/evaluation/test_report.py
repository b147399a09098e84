"""Run history, report.md and plots for a fake CSR run directory (no model needed)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image

from lightning_csr.evaluation.report import metrics_section, read_run_history
from lightning_csr.evaluation.runner import write_outputs

METRICS = [
    {"chair_s": 0.6, "chair_i": 0.3, "recall": 0.7, "pope/random/f1": 0.8, "pope/adversarial/f1": 0.7},
    {"chair_s": 0.5, "chair_i": 0.25, "recall": 0.72, "pope/random/f1": 0.82, "pope/adversarial/f1": 0.74},
    {"chair_s": 0.4, "chair_i": 0.2, "recall": 0.71, "pope/random/f1": 0.85, "pope/adversarial/f1": 0.78},
]


def write_fake_run(run: Path, iterations: int = 3, pairs: int = 40) -> Path:
    """iterations/0..n-1 with eval.json; pairs.jsonl and stats.json from iteration 1 on (as the CSR loop writes)."""
    rng = random.Random(0)
    for k in range(iterations):
        directory = run / "iterations" / str(k)
        directory.mkdir(parents=True)
        (directory / "eval.json").write_text(json.dumps({"metrics": METRICS[k % 3], "scenes": []}))
        if k == 0:
            continue
        lines = []
        for i in range(pairs):
            chosen = rng.gauss(-1.0 + 0.3 * k, 0.3)
            rejected = chosen - abs(rng.gauss(0.5 * k, 0.2))
            meta = {"chosen_score": chosen, "rejected_score": rejected, "margin": chosen - rejected}
            lines.append(json.dumps({"id": f"p{i}", "image": "x.png", "prompt": "q", "chosen": "a",
                                     "rejected": "b", "meta": meta}))  # fmt: skip
        lines.append('{"id": "broken", "meta": {}}')
        (directory / "pairs.jsonl").write_text("\n".join(lines) + "\n")
        (directory / "stats.json").write_text(json.dumps({"pairs": pairs, "mean_margin": 0.5 * k}))
    return run


def fake_result(**metrics: float) -> dict:
    return {
        "benchmark": "shapeworld",
        "model": "llava:tiny",
        "metrics": metrics or {"chair_s": 0.35, "chair_i": 0.2, "recall": 0.7},
        "details": {"top_hallucinated": [["star", 3], ["circle", 1]]},
        "skipped": ["scene 7: no image"],
        "notes": [],
        "options": {"benchmark": "shapeworld"},
        "generation": {"generated": 10, "reused": 2},
    }


def test_history_reads_metrics_and_pair_scores(tmp_path) -> None:
    history = read_run_history(write_fake_run(tmp_path / "run"))
    assert [r.iteration for r in history] == [0, 1, 2]
    assert history[0].metrics["chair_s"] == 0.6 and history[0].chosen == []
    assert len(history[1].chosen) == len(history[1].rejected) == len(history[1].margins) == 40
    assert history[2].bad_pair_lines == 1 and history[2].stats["pairs"] == 40


def test_report_and_plots_for_a_run(tmp_path) -> None:
    run, out = write_fake_run(tmp_path / "run"), tmp_path / "out"
    written = write_outputs(out, fake_result(), run)
    assert {p.name for p in written} == {"results.json", "report.md", "metric_curves.png", "pair_scores.png"}
    for name in ("metric_curves.png", "pair_scores.png"):
        with Image.open(out / name) as image:
            assert image.width > 500 and image.height > 300
    report = (out / "report.md").read_text()
    assert "| 2 | 0.400 | 0.200 | 0.710 |" in report and "final policy (this evaluation)" in report
    assert "![metric curves](metric_curves.png)" in report and "scene 7: no image" in report
    assert "2 pair lines without chosen/rejected scores" in report
    results = json.loads((out / "results.json").read_text())
    assert [r["iteration"] for r in results["run"]["iterations"]] == [0, 1, 2]


def test_no_run_no_plots(tmp_path) -> None:
    written = write_outputs(tmp_path, fake_result(), None)
    assert [p.name for p in written] == ["results.json", "report.md"]
    assert "Training run" not in (tmp_path / "report.md").read_text()


def test_pope_metrics_get_a_split_table() -> None:
    metrics = {f"pope/{s}/{m}": 0.5 for s in ("random", "adversarial") for m in ("f1", "accuracy", "n")}
    section = metrics_section(metrics)
    assert "| adversarial | 0.500 |" in section and "| random |" in section
