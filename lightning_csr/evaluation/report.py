"""A run's per-iteration history (eval.json, pairs.jsonl, stats.json) and the Markdown evaluation report."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# metric key -> column label, in table order (keys shared by ShapeWorld and COCO evaluation)
METRIC_COLUMNS = {
    "chair_s": "CHAIR_S ↓",
    "chair_i": "CHAIR_I ↓",
    "recall": "recall ↑",
    "pope/random/f1": "POPE-R F1 ↑",
    "pope/popular/f1": "POPE-P F1 ↑",
    "pope/adversarial/f1": "POPE-A F1 ↑",
    "pope/all/f1": "POPE F1 ↑",
    "attribute/attribute_error": "attr. error ↓",
    "len": "Len",
    "amber/chair": "AMBER CHAIR ↓",
    "amber/cover": "AMBER Cover ↑",
    "amber/hal": "AMBER Hal ↓",
    "amber/cog": "AMBER Cog ↓",
    "amber/discriminative/accuracy": "AMBER Acc ↑",
    "amber/discriminative/f1": "AMBER F1 ↑",
    "mmhal/average_score": "MMHal score ↑",
    "mmhal/hallucination_rate": "MMHal halluc. ↓",
    "mean_words": "words",
}
POPE_COLUMNS = ("accuracy", "precision", "recall", "f1", "yes_ratio", "unparsed", "n")


@dataclass
class IterationRecord:
    """What a run wrote for one iteration: eval metrics and the scores of the pairs it trained on."""

    iteration: int
    metrics: dict[str, float] = field(default_factory=dict)
    chosen: list[float] = field(default_factory=list)
    rejected: list[float] = field(default_factory=list)
    margins: list[float] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    bad_pair_lines: int = 0


def read_run_history(run_dir: str | Path) -> list[IterationRecord]:
    """Iterations under `<run>/iterations/<k>/` in order; eval.json and eval_<benchmark>.json metrics merged."""
    root = Path(run_dir) / "iterations"
    if not root.is_dir():
        return []
    records = []
    for directory in sorted((p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
        record = IterationRecord(int(directory.name))
        for path in sorted(directory.glob("eval*.json")):
            metrics = json.loads(path.read_text()).get("metrics", {})
            record.metrics.update({k: v for k, v in metrics.items() if isinstance(v, int | float)})
        if (directory / "stats.json").is_file():
            record.stats = json.loads((directory / "stats.json").read_text())
        if (directory / "pairs.jsonl").is_file():
            _read_pair_scores(directory / "pairs.jsonl", record)
        records.append(record)
    return records


def _read_pair_scores(path: Path, record: IterationRecord) -> None:
    """Chosen/rejected scores and margins from the records' `meta`; unreadable lines are counted."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            meta = json.loads(line).get("meta", {})
            chosen, rejected = float(meta["chosen_score"]), float(meta["rejected_score"])
        except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
            record.bad_pair_lines += 1
            continue
        record.chosen.append(chosen)
        record.rejected.append(rejected)
        record.margins.append(float(meta.get("margin", abs(chosen - rejected))))


def _cell(value: Any, count: bool = False) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return str(int(value)) if count and value.is_integer() else f"{value:.3f}"
    return "-" if value is None else str(value)


def _is_count(name: str) -> bool:
    return name == "n" or name.startswith("n_") or name.endswith("/n") or name in ("pairs", "captions")


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    counts = [_is_count(name) for name in header]
    lines += ["| " + " | ".join(_cell(v, c) for v, c in zip(row, counts, strict=True)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def metrics_section(metrics: dict[str, Any]) -> str:
    """The headline metrics, then a POPE table (split x measure) when POPE metrics are present."""
    known = [k for k in METRIC_COLUMNS if k in metrics]
    parts = (
        [markdown_table([METRIC_COLUMNS[k] for k in known], [[metrics[k] for k in known]])] if known else []
    )
    found = {k.split("/")[1] for k in metrics if k.startswith("pope/")}
    order = ("random", "popular", "adversarial", "all")
    splits = [s for s in order if s in found] + sorted(found - set(order))
    if splits:
        rows = [[s, *(metrics.get(f"pope/{s}/{c}") for c in POPE_COLUMNS)] for s in splits]
        parts.append("POPE per split:\n\n" + markdown_table(["split", *POPE_COLUMNS], rows))
    rest = {k: v for k, v in metrics.items() if k not in METRIC_COLUMNS and not k.startswith("pope/")}
    if rest:
        rows = [[k, _cell(v, _is_count(k))] for k, v in rest.items()]
        parts.append("All other metrics:\n\n" + markdown_table(["metric", "value"], rows))
    return "\n".join(parts)


def history_table(history: list[IterationRecord], final: dict[str, Any] | None = None) -> str:
    """One row per iteration (metrics and pair statistics), plus this evaluation's row."""
    keys = [k for k in METRIC_COLUMNS if any(k in r.metrics for r in history) or (final and k in final)]
    header = [
        "iteration",
        *(METRIC_COLUMNS[k] for k in keys),
        "pairs",
        "mean chosen",
        "mean rejected",
        "mean margin",
    ]
    rows = []
    for r in history:
        pairs = [
            len(r.margins) or r.stats.get("pairs"),
            *(_mean(v) for v in (r.chosen, r.rejected, r.margins)),
        ]
        rows.append([r.iteration, *(r.metrics.get(k) for k in keys), *pairs])
    if final is not None:
        rows.append(["final policy (this evaluation)", *(final.get(k) for k in keys), None, None, None, None])
    return markdown_table(header, rows)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def write_report(
    out_dir: Path, result: dict[str, Any], history: list[IterationRecord], plots: list[Path]
) -> Path:
    """`report.md`: what was evaluated, the metrics tables, skips and notes, the run history and its plots."""
    lines = [
        f"# {result['benchmark']} evaluation of {result['model']}",
        "",
        f"- answers: {result['generation']['generated']} generated, {result['generation']['reused']} reused "
        f"from `answers.jsonl`",
        f"- options: `{json.dumps(result['options'])}`",
        "",
        "## Metrics",
        "",
        metrics_section(result["metrics"]),
    ]
    top = (
        result.get("details", {}).get("top_hallucinated") if isinstance(result.get("details"), dict) else None
    )
    if top:
        lines += ["Most often hallucinated objects:", "", markdown_table(["object", "captions"], top)]
    examples = example_rows(result.get("details"))
    if examples:
        lines += [
            "Examples (first answers):",
            "",
            markdown_table(["item", "answer", "hallucinated"], examples),
        ]
    for title, entries in (("Skipped", result["skipped"]), ("Notes", result["notes"])):
        if entries:
            lines += [f"## {title} ({len(entries)})", "", *(f"- {e}" for e in entries[:50]), ""]
    if history:
        lines += [
            "## Training run, per iteration",
            "",
            "Iteration 0 is the starting model; iteration k's metrics are those of the policy after k iterations; "
            "its pairs were generated by the policy after k-1 iterations and trained on in iteration k. "
            "Scores are the pairs' sequence rewards (`meta.chosen_score`, `meta.rejected_score`).",
            "",
            history_table(history, result["metrics"]),
        ]
        bad = sum(r.bad_pair_lines for r in history)
        lines += [f"{bad} pair lines without chosen/rejected scores were left out.", ""] if bad else []
    lines += [f"![{p.stem.replace('_', ' ')}]({p.name})\n" for p in plots]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def example_rows(details: Any, count: int = 3) -> list[list[str]]:
    """A few (item, answer, hallucinated objects) rows from per-scene or per-image details."""
    if not isinstance(details, dict):
        return []
    if "per_scene" in details:
        rows = [(r["id"], r["description"], r["hallucinated"]) for r in details["per_scene"]]
    elif "per_image" in details:
        rows = [(str(k), r["caption"], r["hallucinated"]) for k, r in details["per_image"].items()]
    else:
        return []
    return [[item, _inline(answer), ", ".join(bad) or "none"] for item, answer, bad in rows[:count]]


def _inline(text: str, limit: int = 200) -> str:
    """One Markdown table cell: no newlines or pipes, cut at `limit` characters."""
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "…"
