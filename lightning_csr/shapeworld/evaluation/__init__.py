"""ShapeWorld evaluation: exact metrics against the ground truth, its benchmark and its training callback."""

from lightning_csr.shapeworld.evaluation.callback import ShapeWorldEvalCallback

__all__ = ["ShapeWorldEvalCallback"]
