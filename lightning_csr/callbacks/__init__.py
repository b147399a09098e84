"""Callbacks that drive iterative methods: pair regeneration, reference sync, evaluation, checkpoints."""

from lightning_csr.callbacks.evaluation import EvaluationCallback
from lightning_csr.callbacks.iteration import IterationEvaluator
from lightning_csr.callbacks.latest_checkpoint import LatestCheckpoint
from lightning_csr.callbacks.pair_examples import PairExamplesLogger
from lightning_csr.callbacks.reference_sync import ReferenceSyncCallback
from lightning_csr.callbacks.regeneration import PreferenceRegenerationCallback

__all__ = [
    "EvaluationCallback",
    "IterationEvaluator",
    "LatestCheckpoint",
    "PairExamplesLogger",
    "PreferenceRegenerationCallback",
    "ReferenceSyncCallback",
]
