"""Usability gates: a world passes only when every model clears its gate; the card says which failed."""

from __future__ import annotations

from lightning_csr.shapeworld.build.usability import GATES, usability, usability_lines


def stamps(recall: float, auc: float, vision: float) -> dict:
    return {
        "evaluate_base": {"info": {"metrics": {"recall": recall}}},
        "evaluate_clip": {"info": {"metrics": {"auc": auc}}},
        "vision": {"info": {"held_out_patch_shape_accuracy": vision}},
    }


def test_every_gate_must_pass() -> None:
    assert usability(stamps(0.787, 0.906, 0.951))["usable"] is True  # the default world's pinned build
    low_clip = usability(stamps(0.744, 0.716, 0.95))  # the held-out world the study issue reports
    assert low_clip["usable"] is False
    assert [g["passed"] for g in low_clip["gates"]] == [True, False, True]
    assert usability(stamps(0.70, 0.85, 0.90))["usable"] is True  # a gate is a minimum, inclusive


def test_card_lines_name_the_failed_gate() -> None:
    text = "\n".join(usability_lines(usability(stamps(0.5, 0.9, 0.95))))
    assert "| base VLM object recall (test) | 0.500 | 0.70 | FAIL |" in text
    assert "NOT usable" in text
    assert len(GATES) == 3


def test_prepared_tiny_world_reports_its_verdict(prepared) -> None:
    out, result = prepared
    assert set(result["usability"]) == {"usable", "gates"}
    assert "## Usable as a testbed" in (out / "card.md").read_text()
