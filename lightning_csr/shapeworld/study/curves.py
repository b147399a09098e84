"""Per-iteration curves of CSR and its variants, with their bootstrap bands."""

from __future__ import annotations

from pathlib import Path

from lightning_csr.shapeworld.study.statistics import Interval


def plot_curves(curves: dict[str, dict[str, list[Interval]]], path: Path) -> None:
    """One panel per metric; one line per method with its 95 % band over worlds and scenes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = sorted({metric for method in curves.values() for metric in method})
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        for index, (method, series) in enumerate(curves.items()):
            points = series[metric]
            xs = list(range(len(points)))
            axis.plot(xs, [p.mean for p in points], marker="o", color=f"C{index}", label=method)
            axis.fill_between(
                xs, [p.low for p in points], [p.high for p in points], color=f"C{index}", alpha=0.2
            )
        axis.set_xlabel("iteration")
        axis.set_title(metric)
        axis.set_xticks(xs)
    axes[0][0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
