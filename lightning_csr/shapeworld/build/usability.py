"""Whether a prepared world can serve as a testbed: its models checked against gates stated in advance.

A world whose CLIP cannot tell present from absent shapes gives CSR nothing to calibrate with; a base VLM that
names few of the shapes present leaves no room for hallucination to be traded against coverage; a vision tower
that misreads patches makes every model's errors perception errors rather than learnt priors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Gate:
    """`value >= minimum` for one metric of a built stage."""

    label: str
    stage: str
    metric: str
    minimum: float


GATES = (
    Gate("base VLM object recall (test)", "evaluate_base", "recall", 0.70),
    Gate("CLIP present-vs-absent ROC-AUC (test)", "evaluate_clip", "auc", 0.85),
    Gate("vision tower held-out patch shape accuracy", "vision", "held_out_patch_shape_accuracy", 0.90),
)


def metric_of(stamps: dict[str, Any], gate: Gate) -> float:
    """The gate's metric from the build's stamps (evaluation stages keep theirs under `metrics`)."""
    info = stamps[gate.stage]["info"]
    return float(info.get("metrics", info)[gate.metric])


def usability(stamps: dict[str, Any]) -> dict[str, Any]:
    """{"usable": bool, "gates": [{label, value, minimum, passed}]} of a build."""
    gates = []
    for gate in GATES:
        value = metric_of(stamps, gate)
        gates.append(
            {"label": gate.label, "value": value, "minimum": gate.minimum, "passed": value >= gate.minimum}
        )
    return {"usable": all(g["passed"] for g in gates), "gates": gates}


def usability_lines(verdict: dict[str, Any]) -> list[str]:
    """The card's section: one row per gate and the verdict."""
    lines = ["", "## Usable as a testbed", "", "| gate | value | minimum | |", "|---|---|---|---|"]
    lines += [
        f"| {g['label']} | {g['value']:.3f} | {g['minimum']:.2f} | {'pass' if g['passed'] else 'FAIL'} |"
        for g in verdict["gates"]
    ]
    word = "usable" if verdict["usable"] else "NOT usable: a study should not count results on this world"
    return [*lines, "", f"This world is {word}."]
