"""Tiny VLMs and processors built offline for tests: saved to disk and loaded back with from_pretrained."""

from __future__ import annotations

import string
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models
from transformers import PreTrainedTokenizerFast

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<image>"]
LLAVA_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}USER: "
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
    " {% else %}ASSISTANT: {% for c in m['content'] %}{{ c['text'] }}{% endfor %}</s>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def char_tokenizer(extra_specials: list[str] | None = None, **special_names) -> PreTrainedTokenizerFast:
    """A character-level fast tokenizer over printable ASCII plus special tokens."""
    specials = SPECIALS + (extra_specials or [])
    chars = [c for c in string.printable if c not in "\x0b\x0c\r"]
    vocab = {tok: i for i, tok in enumerate(specials + chars)}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.decoder = decoders.Fuse()
    names = {
        "pad_token": "<pad>",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
    } | special_names
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, **names)
    tok.add_special_tokens({"additional_special_tokens": specials[4:]})
    return tok


def tiny_llava(out_dir: Path, image_size: int = 16, patch_size: int = 8, seed: int = 0) -> Path:
    """Build, save and return the directory of a tiny LLaVA (model + processor): ShapeWorld's processor and
    config builders over a character-level tokenizer, at test sizes."""
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    from lightning_csr.shapeworld.models.clip import CLIPSettings
    from lightning_csr.shapeworld.models.vlm import VLMSettings, base_vlm_config
    from lightning_csr.shapeworld.world.tokenizer import llava_processor, processor_spec

    processor = llava_processor(char_tokenizer(), image_size, patch_size, chat_template=LLAVA_TEMPLATE)
    vision = CLIPSettings(
        vision_hidden=32, vision_intermediate=64, heads=2, patch_size=patch_size, projection_dim=32
    )
    text = VLMSettings(text_hidden=64, text_intermediate=128, text_layers=2, text_heads=2)
    config = LlavaConfig(**base_vlm_config(processor_spec(processor), text, vision))
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def tiny_clip(out_dir: Path, image_size: int = 16, seed: int = 0) -> Path:
    """Build, save and return the directory of a tiny random CLIPModel with its processor."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tok = char_tokenizer()
    text = dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=16,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    vision = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=8,
    )
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    CLIPProcessor(image_processor=image_processor, tokenizer=tok).save_pretrained(out_dir)
    return out_dir
