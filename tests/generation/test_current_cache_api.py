"""The sentence search uses transformers' current cache API: no `past_key_values` deprecation on the main path."""

from __future__ import annotations

import logging
import warnings

import pytest
from transformers.utils import logging as transformers_logging

from lightning_csr.generation import SearchSettings, sentence_search
from lightning_csr.rewards.calibrated import RewardSettings
from tests.generation.conftest import PROMPTS

SMALL = dict(max_sentence_tokens=6, max_sentences=2, max_new_tokens=10)


class Collected(logging.Handler):
    """Keeps the records transformers logs (its deprecations of outputs' attributes go through the logger)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize("use_cache", [True, False], ids=["cached", "reencoded"])
def test_sentence_search_triggers_no_past_key_values_deprecation(llava, images, use_cache) -> None:
    model, backbone = llava
    config = SearchSettings.code(num_candidates=2, use_cache=use_cache, **SMALL)
    logger = transformers_logging.get_logger("transformers")
    handler = Collected()
    transformers_logging.warning_once.cache_clear()  # "once" per process: earlier tests must not hide it
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings():
            for category in (FutureWarning, DeprecationWarning):
                warnings.filterwarnings(
                    "error", message=r".*(past_key_values|cache_params)", category=category
                )
            trees = sentence_search(
                model, backbone, images[:2], PROMPTS[:2], config, reward=RewardSettings.code()
            )
    finally:
        logger.removeHandler(handler)
    assert sum(t.summary()["generated_tokens"] for t in trees) > 0
    deprecated = [m for m in handler.messages if "past_key_values" in m or "cache_params" in m]
    assert not deprecated, deprecated
