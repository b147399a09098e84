"""DPO trains on the token ids the policy sampled (CSR's pairs), checked with the real LLaVA-1.5 tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from lightning_csr.backbones import ImageTokenMismatchError
from lightning_csr.backbones.llava import LlavaBackbone
from lightning_csr.data.preference_dataset import PreferenceCollator, PreferenceDataset
from lightning_csr.data.records import PreferenceRecord, read_records, tokenizer_fingerprint, write_records
from lightning_csr.generation import curate_pairs
from lightning_csr.rewards.calibrated import RewardSettings
from tests.generation.hand_tree import hand_tree
from tests.tiny_models import char_tokenizer

LLAVA_DIR = Path("/work/shared/real_processors/llava-1.5-7b-hf")


@pytest.fixture(scope="module")
def llava() -> LlavaBackbone:
    if not (LLAVA_DIR / "tokenizer_config.json").is_file():
        pytest.skip(f"real LLaVA-1.5 processor files not found in {LLAVA_DIR}")
    return LlavaBackbone(model_id=str(LLAVA_DIR))


def _sampled(tokenizer) -> tuple[list[int], list[int], str, str]:
    """A chosen answer sampled as `▁h`+`ello` (ends with </s>), a capped rejected one, and their decoded texts."""
    a, world, red = (tokenizer.convert_tokens_to_ids(t) for t in ("▁A", "▁world", "▁red"))
    chosen = [a, *tokenizer.convert_tokens_to_ids(["▁h", "ello"]), world, tokenizer.eos_token_id]
    rejected = [a, red, *tokenizer.convert_tokens_to_ids(["▁wor", "ld"])]
    texts = [tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in (chosen, rejected)]
    return chosen, rejected, *texts


def _collate(backbone, tmp_path, meta: dict, chosen: str, rejected: str) -> list[list[int]]:
    """Write one record, read it back, collate it; the completion tokens of its chosen and rejected rows."""
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "im.png")
    record = PreferenceRecord("r1", "im.png", "Describe the image.", chosen, rejected, meta)
    write_records(tmp_path / "pairs.jsonl", [record])
    (read,) = read_records(tmp_path / "pairs.jsonl").records
    batch = PreferenceCollator(backbone)([PreferenceDataset([read], tmp_path)[0]])
    mask = batch["completion_mask"].bool()
    return [batch["input_ids"][row][mask[row]].tolist() for row in range(2)]


def test_collator_trains_on_the_sampled_ids(llava, tmp_path):
    tokenizer = llava.tokenizer
    chosen_ids, rejected_ids, chosen, rejected = _sampled(tokenizer)
    assert chosen == "A hello world" and rejected == "A red world"
    retokenised = tokenizer(chosen, add_special_tokens=False)["input_ids"]
    assert retokenised != chosen_ids[:-1]  # the premise: decode -> encode is not the identity here
    meta = {
        "chosen_ids": chosen_ids,
        "rejected_ids": rejected_ids,
        "tokenizer_fingerprint": tokenizer_fingerprint(tokenizer),
    }
    completions = _collate(llava, tmp_path, meta, chosen, rejected)
    assert completions == [chosen_ids, rejected_ids + [tokenizer.eos_token_id]]


def test_other_tokenizer_or_edited_text_falls_back_to_the_text(llava, tmp_path):
    tokenizer = llava.tokenizer
    chosen_ids, rejected_ids, chosen, rejected = _sampled(tokenizer)
    meta = {
        "chosen_ids": chosen_ids,
        "rejected_ids": rejected_ids,
        "tokenizer_fingerprint": "0123456789abcdef",
    }
    eos = llava.end_of_turn_id
    as_text = [tokenizer(t, add_special_tokens=False)["input_ids"] + [eos] for t in (chosen, rejected)]
    assert _collate(llava, tmp_path, meta, chosen, rejected) == as_text

    meta["tokenizer_fingerprint"] = tokenizer_fingerprint(tokenizer)
    with pytest.warns(UserWarning, match="no longer decode"):
        edited = _collate(llava, tmp_path, meta, "A hello there", rejected)
    assert edited[0] == tokenizer("A hello there", add_special_tokens=False)["input_ids"] + [eos]
    assert edited[1] == rejected_ids + [eos]


def test_bad_stored_ids_are_named(llava, tmp_path):
    tokenizer = llava.tokenizer
    chosen_ids, _, chosen, rejected = _sampled(tokenizer)
    meta = {
        "chosen_ids": chosen_ids,
        "rejected_ids": [1, 10**6],
        "tokenizer_fingerprint": tokenizer_fingerprint(tokenizer),
    }
    with pytest.raises(
        ValueError, match=r"record 'r1': meta field 'rejected_ids' must be a list of token ids"
    ):
        _collate(llava, tmp_path, meta, chosen, rejected)
    image = [Image.new("RGB", (8, 8))]
    with pytest.raises(ImageTokenMismatchError, match="sample x"):
        llava.collate(image, ["q"], ["a"], ids=["x"], response_token_ids=[[319, llava.image_token_id, 2]])
    with pytest.raises(ValueError, match="zip"):
        llava.collate(image, ["q"], ["a"], response_token_ids=[[319], [319]])


def test_fingerprint_tells_tokenizers_apart(llava):
    from transformers import AutoTokenizer

    again = AutoTokenizer.from_pretrained(str(LLAVA_DIR))
    assert tokenizer_fingerprint(again) == tokenizer_fingerprint(llava.tokenizer)
    char = char_tokenizer()
    before = tokenizer_fingerprint(char)
    assert before != tokenizer_fingerprint(again)
    char.add_tokens(["<new>"])
    assert tokenizer_fingerprint(char) != before


def test_curation_stores_the_fingerprint_of_its_tokenizer():
    tokenizer = char_tokenizer()
    tree, _ = hand_tree(tokenizer)
    (record,) = curate_pairs([tree], tokenizer, [None], ["i.png"], ["s1"], RewardSettings(lam=0.0)).records
    assert record.meta["tokenizer_fingerprint"] == tokenizer_fingerprint(tokenizer)
    assert tokenizer.decode(record.meta["chosen_ids"], skip_special_tokens=True).strip() == record.chosen
