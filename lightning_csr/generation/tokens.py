"""Token-id sets the search decides on: sentence stops, end-of-turn, and tokens never to generate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TokenSets:
    """Boolean masks over the model's vocabulary."""

    stop: torch.Tensor  # ends the sentence
    end_of_turn: torch.Tensor  # ends the whole answer
    suppressed: torch.Tensor  # never generated (logit set to -inf)


_DECODED: dict[tuple[int, int], list[str]] = {}


def _decoded_vocab(tokenizer, size: int) -> list[str]:
    """Each token's text on its own (cached per tokenizer object: decoding a 150k vocabulary takes seconds)."""
    key = (id(tokenizer), size)
    if key not in _DECODED:
        _DECODED.clear()
        _DECODED[key] = tokenizer.batch_decode([[i] for i in range(size)], skip_special_tokens=False)
    return _DECODED[key]


def end_of_turn_ids(backbone, model=None) -> set[int]:
    """The backbone's end-of-turn token plus the tokenizer's and the generation config's EOS ids."""
    ids = {backbone.end_of_turn_id, backbone.tokenizer.eos_token_id}
    generation_config = getattr(model, "generation_config", None)
    eos = getattr(generation_config, "eos_token_id", None)
    ids.update(eos if isinstance(eos, (list, tuple)) else [eos])
    return {int(i) for i in ids if i is not None}


def build_token_sets(backbone, vocab_size: int, stop_strings: Sequence[str], model=None) -> TokenSets:
    """Stop / end-of-turn / suppressed masks for a backbone's tokenizer and a model's vocabulary size."""
    tokenizer = backbone.tokenizer
    size = min(len(tokenizer), vocab_size)
    end_ids = {i for i in end_of_turn_ids(backbone, model) if i < vocab_size}
    special = set(tokenizer.all_special_ids)
    special.update(i for i, tok in tokenizer.added_tokens_decoder.items() if tok.special)
    special.update(i for i in (backbone.image_token_id, tokenizer.pad_token_id) if i is not None)

    suppressed = torch.zeros(vocab_size, dtype=torch.bool)
    suppressed[size:] = True  # embedding rows beyond the tokenizer (padded vocabularies)
    suppressed[[i for i in special if i < vocab_size and i not in end_ids]] = True
    end_of_turn = torch.zeros(vocab_size, dtype=torch.bool)
    end_of_turn[list(end_ids)] = True

    stop = torch.zeros(vocab_size, dtype=torch.bool)
    for i, text in enumerate(_decoded_vocab(tokenizer, size)):
        if text and text.endswith(tuple(stop_strings)) and i not in special:
            stop[i] = True
    if not end_ids:
        raise ValueError("the backbone defines no end-of-turn token")
    return TokenSets(stop=stop, end_of_turn=end_of_turn, suppressed=suppressed & ~end_of_turn)
