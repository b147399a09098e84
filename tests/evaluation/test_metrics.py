"""CHAIR, POPE and attribute-error metrics on hand-computed examples."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.evaluation.metrics import AttributeErrorMetric, CHAIRMetric, POPEMetric


def test_chair_with_one_hallucinated_shape() -> None:
    metric = CHAIRMetric()
    # caption 1 mentions star (present), circle (present), ring (hallucinated); caption 2 is faithful
    metric.update([{"star", "circle", "ring"}, {"square"}], [{"star", "circle", "bar"}, {"square", "heart"}])
    result = metric.compute()
    assert result["chair_i"].item() == pytest.approx(1 / 4)
    assert result["chair_s"].item() == pytest.approx(1 / 2)
    assert result["recall"].item() == pytest.approx(3 / 5)
    assert (result["n_captions"].item(), result["n_mentions"].item()) == (2, 4)


def test_chair_accumulates_and_resets() -> None:
    metric = CHAIRMetric()
    metric.update([{"star"}], [{"circle"}])
    metric.update([set()], [{"circle"}])
    result = metric.compute()
    assert (result["chair_i"].item(), result["chair_s"].item(), result["recall"].item()) == (1.0, 0.5, 0.0)
    metric.reset()
    metric.update([{"circle"}], [{"circle"}])
    assert metric.compute()["chair_i"].item() == 0.0
    with pytest.raises(ValueError, match="length"):
        metric.update([{"star"}], [])


def test_pope_by_split_with_unparsed_answers() -> None:
    metric = POPEMetric()
    answers = [True, False, None, True, True, False, None, False]
    labels = [True, True, True, False, True, False, False, False]
    splits = ["random"] * 4 + ["adversarial"] * 4
    metric.update(answers, labels, splits)
    result = metric.compute()
    # random: tp=1, fn=1 (+1 unparsed positive), fp=1 -> accuracy 1/4, precision 1/2, recall 1/3
    assert result["random/accuracy"].item() == pytest.approx(0.25)
    assert result["random/precision"].item() == pytest.approx(0.5)
    assert result["random/recall"].item() == pytest.approx(1 / 3)
    assert result["random/f1"].item() == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert result["random/yes_ratio"].item() == pytest.approx(0.5)
    assert result["random/unparsed"].item() == pytest.approx(0.25)
    # adversarial: tp=1, tn=2, unparsed negative counted as fp -> precision 1/2, recall 1
    assert result["adversarial/accuracy"].item() == pytest.approx(0.75)
    assert result["adversarial/precision"].item() == pytest.approx(0.5)
    assert result["adversarial/recall"].item() == pytest.approx(1.0)
    assert result["popular/n"].item() == 0 and result["popular/accuracy"].item() == 0.0
    assert result["all/accuracy"].item() == pytest.approx(4 / 8)
    assert result["all/unparsed"].item() == pytest.approx(2 / 8)
    assert result["all/yes_ratio"].item() == pytest.approx(3 / 8)
    with pytest.raises(ValueError, match="split"):
        metric.update([True], [True], ["coco"])


@pytest.mark.parametrize("metric_class", [CHAIRMetric, POPEMetric, AttributeErrorMetric])
def test_states_merge_like_one_rank(metric_class: type) -> None:
    """Merging two ranks' states (the sum reduction) equals updating one metric with everything."""
    batches = {
        CHAIRMetric: [([{"star", "ring"}], [{"star"}]), ([{"circle"}], [{"circle", "bar"}])],
        POPEMetric: [
            ([True, None], [True, False], ["random", "popular"]),
            ([False], [True], ["adversarial"]),
        ],
        AttributeErrorMetric: [(["red"], ["red"]), ([None, "blue"], ["green", "green"])],
    }[metric_class]
    whole, rank0, rank1 = metric_class(), metric_class(), metric_class()
    for batch in batches:
        whole.update(*batch)
    rank0.update(*batches[0])
    rank1.update(*batches[1])
    rank0.merge_state(rank1)
    merged, expected = rank0.compute(), whole.compute()
    assert merged.keys() == expected.keys()
    assert all(torch.equal(merged[k], expected[k]) for k in expected)


def test_attribute_error() -> None:
    metric = AttributeErrorMetric()
    metric.update(["Red", None, "blue", "small"], ["red", "green", "green", "small"])
    result = metric.compute()
    assert result["attribute_error"].item() == pytest.approx(0.5)
    assert result["unparsed"].item() == pytest.approx(0.25)
