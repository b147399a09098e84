"""The study across worlds: intervals, claim verdicts, the exact-count oracle and reward accuracy."""

from lightning_csr.shapeworld.study.oracle import ExactCountRanker

__all__ = ["ExactCountRanker"]
