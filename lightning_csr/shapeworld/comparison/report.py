"""The comparison's evaluation and outputs: ShapeWorld metrics, a Markdown table and a bar chart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning_csr.evaluation.report import METRIC_COLUMNS

COLUMNS = {
    key: METRIC_COLUMNS[key]
    for key in ("chair_s", "chair_i", "recall", "pope/random/f1", "pope/popular/f1", "pope/adversarial/f1")
}


def markdown_table(rows: Sequence[dict[str, Any]], config: Any) -> str:
    head = ["method", *COLUMNS.values(), "train wall s", "eval wall s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        values = [f"{row['metrics'].get(k, float('nan')):.3f}" for k in COLUMNS]
        lines.append(
            f"| {row['method']} | " + " | ".join(values) + f" | {row['train_s']:.0f} | {row['eval_s']:.0f} |"
        )
    note = (
        f"\nShapeWorld {config.eval_split} split, {config.eval_scenes} scenes; {config.num_prompts} prompts, "
        f"{config.epochs} epochs, batch {config.batch_size}, LoRA r={config.lora_r}, lr={config.lr}, "
        f"beta={config.beta}; POVID stage 2 from epoch {config.povid_noise_start_epoch}; CPU."
    )
    return "\n".join(lines) + "\n" + note + "\n"


def bar_chart(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Grouped bars per metric (one colour per method) and a wall-time panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [4, 1]})
    width = 0.8 / len(rows)
    for index, row in enumerate(rows):
        xs = [i + (index - (len(rows) - 1) / 2) * width for i in range(len(COLUMNS))]
        values = [row["metrics"].get(k, 0.0) for k in COLUMNS]
        bars = left.bar(xs, values, width, label=row["method"], color=f"C{index}")
        left.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
        right.bar(index, row["train_s"] / 60, color=f"C{index}")
    left.set_xticks(range(len(COLUMNS)), list(COLUMNS.values()))
    left.set_ylim(0, 1.08)
    left.set_title("ShapeWorld hallucination metrics (held-out test scenes)")
    left.legend(ncol=len(rows), loc="upper center", fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.08))
    right.set_xticks(range(len(rows)), [r["method"] for r in rows])
    right.set_title("training wall time (min)")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def evaluate(model: Any, backbone: Any, config: Any) -> dict[str, float]:
    """The comparison's metrics of one policy on `eval_scenes` scenes of `eval_split`."""
    return evaluate_scenes(model, backbone, config)["metrics"]


def evaluate_scenes(model: Any, backbone: Any, config: Any) -> dict[str, Any]:
    """{"metrics", "scenes"}: the metrics and every scene's outputs (what it named, hallucinated, missed)."""
    from lightning_csr.shapeworld import WorldSettings
    from lightning_csr.shapeworld.evaluation.metrics import evaluate_shapeworld
    from lightning_csr.shapeworld.world.files import load_images, read_scenes

    root = Path(config.data_dir)
    scenes = read_scenes(root, config.eval_split)[: config.eval_scenes]
    result = evaluate_shapeworld(
        model,
        backbone,
        WorldSettings.load(root / "world.json"),
        scenes,
        batch_size=config.eval_batch_size,
        max_new_tokens=config.max_new_tokens,
        images=load_images(root, config.eval_split, scenes),
    )
    return result
