"""Hallucination metrics as torchmetrics Metrics (sum-reduced count states, so they can sync across ranks).

The evaluations here gather every rank's answers first and score all of them on every rank, so `compute` does
not sync by default (it would count each answer once per rank); pass `sync_on_compute=True` to a metric that each
rank updates with its own slice.

World-agnostic: objects and attribute values are plain strings, shared by ShapeWorld and COCO evaluation.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import torch
from torch import Tensor
from torchmetrics import Metric


def _ratio(numerator: Tensor, denominator: Tensor) -> Tensor:
    """numerator / denominator as float, 0 where the denominator is 0."""
    numerator, denominator = numerator.to(torch.float64), denominator.to(torch.float64)
    safe = torch.where(denominator > 0, denominator, torch.ones_like(denominator))
    return torch.where(denominator > 0, numerator / safe, torch.zeros_like(denominator)).float()


def _check_lengths(**sequences: Sequence) -> None:
    """Raise ValueError when the given sequences differ in length."""
    lengths = {name: len(values) for name, values in sequences.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"length mismatch: {lengths}")


class CHAIRMetric(Metric):
    """CHAIR: chair_i = hallucinated mentions / mentions, chair_s = captions with a hallucination / captions,
    recall = distinct ground-truth objects mentioned / ground-truth objects. A caption's mentions are a list
    (counted with repetition, as the released CHAIR counts them) or a set (each object once)."""

    full_state_update = False
    higher_is_better = False
    is_differentiable = False

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**{"sync_on_compute": False, **kwargs})
        for name in (
            "captions",
            "hallucinated_captions",
            "mentions",
            "hallucinated_mentions",
            "truth",
            "recalled",
        ):
            self.add_state(name, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, mentioned: Sequence[Collection[str]], truth: Sequence[Collection[str]]) -> None:
        """Add captions given the objects each mentions and the objects each image holds."""
        _check_lengths(mentioned=mentioned, truth=truth)
        for said, present in zip(mentioned, truth, strict=True):
            present = set(present)
            hallucinated = sum(name not in present for name in said)
            self.captions += 1
            self.hallucinated_captions += int(hallucinated > 0)
            self.mentions += len(said)
            self.hallucinated_mentions += hallucinated
            self.truth += len(present)
            self.recalled += len(set(said) & present)

    def compute(self) -> dict[str, Tensor]:
        """chair_s, chair_i, recall, n_captions, n_mentions."""
        return {
            "chair_s": _ratio(self.hallucinated_captions, self.captions),
            "chair_i": _ratio(self.hallucinated_mentions, self.mentions),
            "recall": _ratio(self.recalled, self.truth),
            "n_captions": self.captions.clone(),
            "n_mentions": self.mentions.clone(),
        }


# columns of POPEMetric.counts
_TP, _FP, _TN, _FN, _UNPARSED, _YES = range(6)


class POPEMetric(Metric):
    """POPE yes/no probing per split and over all ("all/..."): accuracy, precision, recall, f1, yes_ratio, unparsed.

    An unparsed answer (None) counts as wrong: a false negative on a positive question, a false positive on a
    negative one; it is not a "yes" for yes_ratio. unparsed is the share of unparsed answers.
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False

    def __init__(
        self, splits: Sequence[str] = ("random", "popular", "adversarial"), **kwargs: object
    ) -> None:
        super().__init__(**{"sync_on_compute": False, **kwargs})
        if not splits or "all" in splits or len(set(splits)) != len(splits):
            raise ValueError(f"splits must be distinct, non-empty and not 'all', got {list(splits)}")
        self.splits = tuple(splits)
        self.add_state(
            "counts", default=torch.zeros(len(self.splits), 6, dtype=torch.long), dist_reduce_fx="sum"
        )

    def update(self, answers: Sequence[bool | None], labels: Sequence[bool], splits: Sequence[str]) -> None:
        """Add parsed answers (None = unparsed) with their labels and POPE splits."""
        _check_lengths(answers=answers, labels=labels, splits=splits)
        counts = torch.zeros_like(self.counts)
        for answer, label, split in zip(answers, labels, splits, strict=True):
            if split not in self.splits:
                raise ValueError(f"unknown POPE split {split!r}; this metric tracks {list(self.splits)}")
            row = self.splits.index(split)
            if answer is None:
                counts[row, _UNPARSED] += 1
                counts[row, _FN if label else _FP] += 1
                continue
            counts[row, _YES] += int(answer)
            column = (_TP if answer else _FN) if label else (_FP if answer else _TN)
            counts[row, column] += 1
        self.counts += counts

    def compute(self) -> dict[str, Tensor]:
        """{split}/{accuracy,precision,recall,f1,yes_ratio,unparsed,n} for every split and 'all'."""
        results: dict[str, Tensor] = {}
        rows = [(split, self.counts[i]) for i, split in enumerate(self.splits)] + [
            ("all", self.counts.sum(0))
        ]
        for split, row in rows:
            tp, fp, tn, fn = row[_TP], row[_FP], row[_TN], row[_FN]
            total = tp + fp + tn + fn
            precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
            results[f"{split}/accuracy"] = _ratio(tp + tn, total)
            results[f"{split}/precision"] = precision
            results[f"{split}/recall"] = recall
            results[f"{split}/f1"] = _ratio(2 * precision * recall, precision + recall)
            results[f"{split}/yes_ratio"] = _ratio(row[_YES], total)
            results[f"{split}/unparsed"] = _ratio(row[_UNPARSED], total)
            results[f"{split}/n"] = total.clone()
        return results


class AttributeErrorMetric(Metric):
    """Share of wrong attribute answers (unparsed counts as wrong) and share of unparsed answers."""

    full_state_update = False
    higher_is_better = False
    is_differentiable = False

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**{"sync_on_compute": False, **kwargs})
        for name in ("total", "wrong", "unparsed"):
            self.add_state(name, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, predicted: Sequence[str | None], truth: Sequence[str]) -> None:
        """Add predicted attribute values (None = unparsed) against the true ones (case-insensitive)."""
        _check_lengths(predicted=predicted, truth=truth)
        for guess, answer in zip(predicted, truth, strict=True):
            self.total += 1
            if guess is None:
                self.unparsed += 1
                self.wrong += 1
            elif guess.strip().lower() != answer.strip().lower():
                self.wrong += 1

    def compute(self) -> dict[str, Tensor]:
        """attribute_error and unparsed."""
        return {
            "attribute_error": _ratio(self.wrong, self.total),
            "unparsed": _ratio(self.unparsed, self.total),
        }
