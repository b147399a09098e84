"""The metrics table and the data card of a prepared ShapeWorld."""

from __future__ import annotations

import json
import os
from typing import Any

from rich.table import Table

from lightning_csr.shapeworld import WorldSettings
from lightning_csr.shapeworld.build.usability import usability, usability_lines

# (metric key, label) in display order; absent keys are left out
VLM_ROWS = (
    ("recall", "object recall"),
    ("chair_s", "CHAIR_S"),
    ("chair_i", "CHAIR_I"),
    ("pope/random/f1", "POPE F1 random"),
    ("pope/popular/f1", "POPE F1 popular"),
    ("pope/adversarial/f1", "POPE F1 adversarial"),
    ("pope/all/accuracy", "POPE accuracy (all)"),
    ("pope/all/yes_ratio", "POPE yes ratio (all)"),
    ("attribute/attribute_error", "attribute error"),
)
CLIP_ROWS = (("auc", "present-vs-absent ROC-AUC"), ("auc_within_scene", "ROC-AUC within a scene"))


def metrics_table(metrics: dict[str, float], title: str) -> Table:
    """A two-column rich table of the known metrics (VLM or CLIP) present in `metrics`."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label in (*VLM_ROWS, *CLIP_ROWS):
        if key in metrics:
            table.add_row(label, f"{metrics[key]:.3f}")
    return table


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def numerics_lines(stamps: dict[str, Any], workers: int) -> list[str]:
    """The card's section on the numeric code paths: what each model stage's worker ran on."""
    records: dict[str, list[str]] = {}
    for name, stamp in stamps.items():
        if "numerics" in stamp["info"]:
            records.setdefault(json.dumps(stamp["info"]["numerics"], sort_keys=True), []).append(name)
    lines = [
        "",
        "## Numeric code paths",
        "",
        f"The model stages ran in stage workers, one torch thread each, up to {workers} at once in this "
        "run (`--threads`; the models do not depend on it).",
    ]
    for text, names in records.items():
        record = json.loads(text)
        pin = record["pin"]
        pinned = "none (unpinned)" if pin == "unpinned" else " ".join(f"`{k}={v}`" for k, v in pin.items())
        kernels = record["kernels"]
        lines += [
            "",
            f"Stages {', '.join(names)}:",
            "",
            "| | |",
            "|---|---|",
            f"| torch / MKL / oneDNN | {record['torch']} / {record['mkl']} / {record['onednn']} |",
            f"| CPU | {record['cpu']} |",
            f"| kernels in use (ATen / MKL CNR / oneDNN) | {kernels['aten']} / {kernels['mkl_cnr']} / "
            f"{kernels['onednn_isa']} |",
            f"| pinned environment | {pinned} |",
            f"| torch threads per worker | {record['threads_per_worker']} |",
        ]
    return lines


def card_markdown(
    world: WorldSettings,
    settings: Any,
    stamps: dict[str, Any],
    seconds: float,
    runner: Any,
    workers: int = 1,
) -> str:
    """The data card: what was built, with which settings, and how well the two models do."""
    base = stamps["evaluate_base"]["info"]["metrics"]
    clip = stamps["evaluate_clip"]["info"]["metrics"]
    vlm, clip_train = stamps["base_model"]["info"], stamps["clip"]["info"]
    scenes = stamps["scenes"]["info"]["scenes"]
    lines = [
        "# ShapeWorld data card",
        "",
        f"World: {world.image_size}x{world.image_size} px, {len(world.shapes)} shapes, {len(world.colours)} colours, "
        f"{world.min_objects}-{world.max_objects} objects on a {world.grid}x{world.grid} grid ({world.placement}).",
        f"Scenes: train {scenes['train']} (SFT {settings.n_sft_scenes}, held-out prompts {settings.n_prompt_scenes}), "
        f"val {scenes['val']}, test {scenes['test']}. Evaluated on {base.get('n_captions', 0):.0f} test scenes.",
        f"SFT descriptions name an absent co-occurrence partner at rate {settings.caption_prior_noise} "
        f'("{settings.caption_prior_template}"; noisy captions, every metric is against the ground truth).',
        "",
        "## Base VLM (`base_model/`, LLaVA format)",
        "",
        f"{vlm['parameters']:,} parameters; SFT {vlm['steps']} steps x batch {settings.sft.batch_size} in "
        f"{vlm['train_seconds']} s (final loss {_fmt(vlm['final_loss'])}).",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {label} | {base[key]:.3f} |" for key, label in VLM_ROWS if key in base]
    lines += [
        "",
        "## CLIP (`clip/`)",
        "",
        f"{clip_train['parameters']:,} parameters; {settings.clip.max_steps} contrastive steps x batch "
        f"{settings.clip.batch_size} in {clip_train['train_seconds']} s.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {label} | {clip[key]:.3f} |" for key, label in CLIP_ROWS if key in clip]
    vision = stamps.get("vision", {}).get("info", {})
    if vision:
        lines += [
            "",
            "## Vision tower (`vision/`, dense patch pre-training; the base VLM and the CLIP start from it)",
            "",
            f"{settings.vision.max_steps} steps x batch {settings.vision.batch_size} in {vision['train_seconds']} s; "
            f"held-out patch accuracy: shape {vision['held_out_patch_shape_accuracy']:.3f}, "
            f"colour {vision['held_out_patch_colour_accuracy']:.3f}.",
        ]
    lines += usability_lines(usability(stamps))
    lines += ["", "## Build", "", "| stage | seconds | this run |", "|---|---|---|"]
    lines += [
        f"| {name} | {stamp['seconds']} | {'skipped' if name in runner.skipped else 'built'} |"
        for name, stamp in stamps.items()
    ]
    lines += numerics_lines(stamps, workers)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines += [
        "",
        f"This run: {seconds:.1f} s wall on {os.cpu_count()} CPU cores (1-min load average {load:.2f} at the end).",
        "",
    ]
    return "\n".join(lines)
