"""Pairwise preference losses over summed completion log-probs (DPO and its TRL-style variants).

With Δ = (log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l)) and β > 0:

* ``sigmoid`` (DPO, Rafailov et al. 2023): ``−log σ(βΔ)``. With ``label_smoothing = ε > 0`` this is
  conservative DPO, ``(1−ε)·(−log σ(βΔ)) + ε·(−log σ(−βΔ))``, as in TRL.
* ``robust`` (Chowdhury et al. 2024, "Provably Robust DPO"): the unbiased loss under label flips with
  probability ε, ``((1−ε)·(−log σ(βΔ)) − ε·(−log σ(−βΔ))) / (1−2ε)``. Its expectation over flipped labels
  equals the clean sigmoid loss; it can be negative.
* ``hinge`` (SLiC / RSO): ``relu(1 − βΔ)``.
* ``ipo`` (Azar et al. 2023): ``(Δ_norm − 1/(2β))²`` where each log-ratio is divided by its completion length
  when ``chosen_lengths`` and ``rejected_lengths`` are given (TRL's length-normalised IPO); otherwise Δ_norm = Δ.
* ``sft``: ``chosen_nll``, the mean per-token NLL of the chosen completion (RPO / MPO when combined).

Types are combined as a weighted sum of batch means (TRL ``loss_type`` / ``loss_weights``, peers.md §1.4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

LOSS_TYPES = ("sigmoid", "ipo", "hinge", "robust", "sft")


def normalize_loss_types(loss_type: str | Sequence[str]) -> tuple[str, ...]:
    """Return the requested loss types as a tuple (a bare string is one type)."""
    return (loss_type,) if isinstance(loss_type, str) else tuple(loss_type)


def validate_loss_options(
    loss_type: str | Sequence[str],
    loss_weights: Sequence[float] | None,
    label_smoothing: float,
    beta: float,
) -> tuple[str, ...]:
    """Check loss types, weights, label smoothing and beta; return the loss types as a tuple."""
    types = normalize_loss_types(loss_type)
    if not types:
        raise ValueError(f"loss_type must name at least one of {LOSS_TYPES}")
    unknown = [name for name in types if name not in LOSS_TYPES]
    if unknown:
        raise ValueError(f"unknown loss type(s) {unknown}; known loss types are {LOSS_TYPES}")
    if loss_weights is not None and len(loss_weights) != len(types):
        raise ValueError(
            f"loss_weights has {len(loss_weights)} entries but loss_type has {len(types)} ({list(types)})"
        )
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"label_smoothing must be in [0, 0.5), got {label_smoothing}")
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    return types


def _per_example_loss(
    name: str,
    logits: Tensor,
    normalized_logits: Tensor,
    beta: float,
    label_smoothing: float,
    chosen_nll: Tensor | None,
) -> Tensor:
    """Loss of one type per example ([B], or a scalar for ``sft`` given as a scalar)."""
    eps = label_smoothing
    if name == "sigmoid":
        return -(1 - eps) * F.logsigmoid(beta * logits) - eps * F.logsigmoid(-beta * logits)
    if name == "robust":
        return (-(1 - eps) * F.logsigmoid(beta * logits) + eps * F.logsigmoid(-beta * logits)) / (1 - 2 * eps)
    if name == "hinge":
        return torch.relu(1 - beta * logits)
    if name == "ipo":
        return (normalized_logits - 1 / (2 * beta)) ** 2
    if chosen_nll is None:
        raise ValueError('loss type "sft" needs chosen_nll (mean per-token NLL of the chosen completion)')
    return chosen_nll


def preference_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor,
    *,
    beta: float = 0.1,
    loss_type: Sequence[str] = ("sigmoid",),
    loss_weights: Sequence[float] | None = None,
    label_smoothing: float = 0.0,
    chosen_nll: Tensor | None = None,
    chosen_lengths: Tensor | None = None,
    rejected_lengths: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Weighted sum over loss types of the batch-mean preference loss, plus TRL-named metrics."""
    types = validate_loss_options(loss_type, loss_weights, label_smoothing, beta)
    weights = [1.0] * len(types) if loss_weights is None else [float(w) for w in loss_weights]
    if (chosen_lengths is None) != (rejected_lengths is None):
        raise ValueError(
            "give both chosen_lengths and rejected_lengths (IPO length normalisation) or neither"
        )

    chosen_logratios = policy_chosen_logps - ref_chosen_logps
    rejected_logratios = policy_rejected_logps - ref_rejected_logps
    logits = chosen_logratios - rejected_logratios
    normalized_logits = logits
    if chosen_lengths is not None and rejected_lengths is not None:
        normalized_logits = chosen_logratios / chosen_lengths.to(logits.dtype) - rejected_logratios / (
            rejected_lengths.to(logits.dtype)
        )

    loss = logits.new_zeros(())
    for name, weight in zip(types, weights, strict=True):
        per_example = _per_example_loss(name, logits, normalized_logits, beta, label_smoothing, chosen_nll)
        loss = loss + weight * per_example.mean()

    chosen_rewards = (beta * chosen_logratios).detach()
    rejected_rewards = (beta * rejected_logratios).detach()
    metrics = {
        "rewards/chosen": chosen_rewards.mean(),
        "rewards/rejected": rejected_rewards.mean(),
        "rewards/margins": (chosen_rewards - rejected_rewards).mean(),
        "rewards/accuracies": (chosen_rewards > rejected_rewards).to(logits.dtype).mean(),
        "logps/chosen": policy_chosen_logps.detach().mean(),
        "logps/rejected": policy_rejected_logps.detach().mean(),
    }
    return loss, metrics


@dataclass
class DPOLossSettings:
    """Options of ``preference_loss``: beta, loss types with weights, and label smoothing."""

    beta: float = 0.1
    loss_type: list[str] = field(default_factory=lambda: ["sigmoid"])
    loss_weights: list[float] | None = None
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        """Normalise a bare string loss type and validate every option."""
        self.loss_type = list(normalize_loss_types(self.loss_type))
        validate_loss_options(self.loss_type, self.loss_weights, self.label_smoothing, self.beta)

    def loss_kwargs(self) -> dict[str, object]:
        """Keyword arguments to pass to ``preference_loss``."""
        return {
            "beta": self.beta,
            "loss_type": tuple(self.loss_type),
            "loss_weights": None if self.loss_weights is None else tuple(self.loss_weights),
            "label_smoothing": self.label_smoothing,
        }
