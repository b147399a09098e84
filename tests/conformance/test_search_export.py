"""CSR sentence search and pair curation, and the export hand-off, on each real-processor family."""

from __future__ import annotations

import torch
from PIL import Image

from lightning_csr.backbones import LoraSettings
from lightning_csr.commands.export import export_policy
from lightning_csr.generation import SearchSettings, curate_pairs, sentence_search
from lightning_csr.generation.search import vocab_size
from lightning_csr.generation.tokens import build_token_sets
from lightning_csr.modules import PreferenceModule
from lightning_csr.rewards.calibrated import RewardSettings
from lightning_csr.rewards.clip_relevance import ClipRelevance
from tests.conformance.conftest import images, real_backbone
from tests.modules.helpers import perturb_adapter

PROMPTS = ["What is in the image?", "Describe the picture."]
STOPS = (".", "?", "!", "\n")


def _favour_full_stops(model, backbone) -> None:
    """Scale the output row of '.' so that random weights end sentences on it now and then."""
    dot = backbone.response_text_ids("red.")[-1]
    with torch.no_grad():
        model.get_output_embeddings().weight[dot] *= 40


def test_sentence_search_and_pair_curation(family, real_clip_dir):
    backbone = real_backbone(family, training=True)
    model = backbone.load_model().eval()
    _favour_full_stops(model, backbone)
    clip = ClipRelevance(str(real_clip_dir))
    pictures = images(2)
    settings = SearchSettings.code(
        num_candidates=3, max_sentence_tokens=5, max_sentences=2, max_new_tokens=10
    )
    reward = RewardSettings.code()
    trees = sentence_search(model, backbone, pictures, PROMPTS, settings, image_scorer=clip, reward=reward)
    sets = build_token_sets(backbone, vocab_size(model), STOPS, model)
    tokenizer = backbone.tokenizer
    stops = [node for tree in trees for node in tree.nodes if node.finish_reason == "stop"]
    assert stops, "no sentence ended on a stop token"
    for node in stops:  # a sentence ends exactly at its stop token, found on the real vocabulary
        assert sets.stop[node.token_ids[-1]] and not sets.stop[node.token_ids[:-1]].any()
        assert tokenizer.decode(node.token_ids[-1:]).endswith(STOPS)
    for tree in trees:
        assert not any(backbone.image_token_id in node.token_ids for node in tree.nodes)
    curation = curate_pairs(trees, tokenizer, pictures, ["0.png", "1.png"], ["a", "b"], reward, clip)
    assert len(curation.records) + sum(curation.counts().values()) - curation.counts()["kept"] == 2
    assert curation.records, curation.counts()
    for record in curation.records:
        assert record.chosen != record.rejected
        chosen = [t for t in record.meta["chosen_ids"] if t != backbone.end_of_turn_id]
        assert tokenizer.decode(chosen, skip_special_tokens=True).strip() == record.chosen
    # the curated pairs train as sampled: their ids, the real prompt, the image tokens all line up
    record = curation.records[0]
    batch = backbone.collate(
        pictures[:1],
        [record.prompt],
        [record.chosen],
        ids=[record.id],
        response_token_ids=[record.meta["chosen_ids"]],
    )
    backbone.check_image_tokens(batch, [record.id])
    assert batch["input_ids"][0][batch["completion_mask"][0].bool()][-1] == backbone.end_of_turn_id


def test_export_loads_with_auto_classes_and_equal_logits(family, tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    backbone = real_backbone(family, training=True, lora=LoraSettings(r=4, alpha=8))
    module = PreferenceModule(backbone)
    module.configure_model()
    perturb_adapter(module, scale=0.05)  # a non-zero LoRA update, so the merge matters
    merged = export_policy(module, tmp_path / "export")["merged"]
    model = AutoModelForImageTextToText.from_pretrained(merged).eval()
    processor = AutoProcessor.from_pretrained(merged)
    picture = Image.new("RGB", (32, 32), "red")
    batch = backbone.collate([picture], ["What is it?"], ["A red square."])
    prompt = backbone.prompt_text("What is it?")
    assert (
        processor.apply_chat_template(backbone.prompt_messages("What is it?"), add_generation_prompt=True)
        == prompt
    )
    inputs = backbone.model_inputs(batch)
    module.policy.eval()
    with torch.no_grad():
        ours = module.policy(**inputs, use_cache=False).logits
        with module.policy.disable_adapter():
            base = module.policy(**inputs, use_cache=False).logits
        theirs = model(**inputs, use_cache=False).logits
    assert (ours - base).abs().max() > 1e-3
    torch.testing.assert_close(theirs, ours, atol=1e-4, rtol=1e-4)
