"""Tiny models of every backbone family, built offline: config + local tokenizer/processor saved to a directory.

Each builder returns the directory; the tests load it back through the real `from_pretrained` path. Language
models have hidden sizes that are multiples of 64 so bitsandbytes 4-bit works on them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from tests.tiny_models import char_tokenizer, tiny_llava

IMAGE_SIZE = 16
TEXT = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 2}
TEXT_KV = {**TEXT, "num_key_value_heads": 1, "max_position_embeddings": 512}
VISION = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "image_size": IMAGE_SIZE}

QWEN_SPECIALS = [
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
QWEN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
IDEFICS_SPECIALS = ["<fake_token_around_image>", "<global-img>", "<end_of_utterance>"] + [
    f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)
]
IDEFICS_TEMPLATE = (
    "<|im_start|>{% for m in messages %}{{ m['role'] | capitalize }}:"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
)
LLAVA_NEXT_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}[INST] "
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
    " [/INST]{% else %}{% for c in m['content'] %}{{ c['text'] }}{% endfor %}</s>{% endif %}{% endfor %}"
)


def _save(model: torch.nn.Module, processor, out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def _clip_vision(patch_size: int = 8):
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(num_hidden_layers=2, patch_size=patch_size, projection_dim=32, **VISION)


def _llama_text(tok):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        **TEXT_KV,
    )


def tiny_llava_next(out_dir: Path, seed: int = 0) -> Path:
    """LLaVA-NeXT: CLIP tower, anyres grid pinpoints of 16-pixel tiles, image newline, Llama text model."""
    from transformers import (
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessor,
        LlavaNextProcessor,
    )

    tok = char_tokenizer()
    pinpoints = [[16, 32], [32, 16], [32, 32]]
    image_processor = LlavaNextImageProcessor(
        size={"shortest_edge": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        image_grid_pinpoints=pinpoints,
    )
    processor = LlavaNextProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=LLAVA_NEXT_TEMPLATE,
    )
    config = LlavaNextConfig(
        vision_config=_clip_vision(),
        text_config=_llama_text(tok),
        image_grid_pinpoints=pinpoints,
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(seed)
    return _save(LlavaNextForConditionalGeneration(config), processor, out_dir)


def tiny_qwen2_vl(out_dir: Path, seed: int = 0, version: str = "2") -> Path:
    """Qwen2-VL (`version="2"`) or Qwen2.5-VL (`"2.5"`): patch 4, merge 2, 16-pixel images give 4 image tokens."""
    from transformers import Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    if version == "2":
        from transformers import Qwen2VLConfig as Config
        from transformers import Qwen2VLForConditionalGeneration as Model
        from transformers import Qwen2VLProcessor as Processor

        vision = {"depth": 1, "embed_dim": 32, "hidden_size": 64, "num_heads": 2, "mlp_ratio": 2}
    else:
        from transformers import Qwen2_5_VLConfig as Config
        from transformers import Qwen2_5_VLForConditionalGeneration as Model
        from transformers import Qwen2_5_VLProcessor as Processor

        vision = {
            "depth": 1,
            "hidden_size": 32,
            "out_hidden_size": 64,
            "num_heads": 2,
            "intermediate_size": 64,
            "fullatt_block_indexes": [0],
            "window_size": 16,
        }
    vision |= {"patch_size": 4, "spatial_merge_size": 2, "temporal_patch_size": 2, "in_channels": 3}
    tok = char_tokenizer(QWEN_SPECIALS, eos_token="<|im_end|>")
    pixels = IMAGE_SIZE * IMAGE_SIZE
    image_processor = Qwen2VLImageProcessor(
        size={"shortest_edge": pixels, "longest_edge": 4 * pixels},
        patch_size=4,
        merge_size=2,
        temporal_patch_size=2,
    )
    video_processor = Qwen2VLVideoProcessor(patch_size=4, merge_size=2, temporal_patch_size=2)
    processor = Processor(
        image_processor=image_processor,
        tokenizer=tok,
        video_processor=video_processor,
        chat_template=QWEN_TEMPLATE,
    )
    ids = {
        name: tok.convert_tokens_to_ids(t)
        for name, t in [
            ("image_token_id", "<|image_pad|>"),
            ("video_token_id", "<|video_pad|>"),
            ("vision_start_token_id", "<|vision_start|>"),
            ("vision_end_token_id", "<|vision_end|>"),
        ]
    }
    text = {
        **TEXT_KV,
        "vocab_size": len(tok),
        "rope_parameters": {"rope_type": "default", "mrope_section": [4, 6, 6], "rope_theta": 10000.0},
        "pad_token_id": tok.pad_token_id,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
    }
    config = Config(text_config=text, vision_config=vision, **ids)
    torch.manual_seed(seed)
    return _save(Model(config), processor, out_dir)


def tiny_qwen25_vl(out_dir: Path, seed: int = 0) -> Path:
    return tiny_qwen2_vl(out_dir, seed, version="2.5")


def tiny_idefics3(out_dir: Path, seed: int = 0, do_image_splitting: bool = False) -> Path:
    """Idefics3 / SmolVLM: SigLIP-style tower with 16-pixel tiles, pixel shuffle 2 gives 4 tokens per tile."""
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
        Idefics3VisionConfig,
    )

    tok = char_tokenizer(IDEFICS_SPECIALS)
    image_processor = Idefics3ImageProcessor(
        size={"longest_edge": 2 * IMAGE_SIZE},
        max_image_size={"longest_edge": IMAGE_SIZE},
        do_image_splitting=do_image_splitting,
    )
    processor = Idefics3Processor(
        image_processor=image_processor, tokenizer=tok, image_seq_len=4, chat_template=IDEFICS_TEMPLATE
    )
    vision = Idefics3VisionConfig(num_hidden_layers=1, patch_size=4, **VISION)
    config = Idefics3Config(
        vision_config=vision,
        text_config=_llama_text(tok),
        scale_factor=2,
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    return _save(Idefics3ForConditionalGeneration(config), processor, out_dir)


def tiny_paligemma(out_dir: Path, seed: int = 0) -> Path:
    """PaliGemma: SigLIP tower (patch 8 on 16 pixels: 4 image tokens), Gemma text model, prefix-LM attention."""
    from transformers import (
        GemmaConfig,
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
        SiglipImageProcessor,
        SiglipVisionConfig,
    )

    tok = char_tokenizer()
    image_processor = SiglipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    image_processor.image_seq_length = 4
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tok)
    vision = SiglipVisionConfig(
        num_hidden_layers=1, patch_size=8, projection_dim=64, vision_use_head=False, **VISION
    )
    text = GemmaConfig(
        vocab_size=len(tok),
        head_dim=32,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        **TEXT_KV,
    )
    config = PaliGemmaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=processor.image_token_id,
        projection_dim=64,
    )
    torch.manual_seed(seed)
    return _save(PaliGemmaForConditionalGeneration(config), processor, out_dir)


def tiny_composed(out_dir: Path, seed: int = 0, projector: str = "mlp2x_gelu") -> Path:
    """Composed: a 1-block timm ViT (patch 8 on 16 pixels: 4 image tokens) + projector + a Llama causal LM."""
    from lightning_csr.backbones.composed import ComposedProcessor, ComposedVLM, ComposedVLMConfig

    tok = char_tokenizer()
    tok.chat_template = COMPOSED_TEMPLATE
    config = ComposedVLMConfig(
        vision_model="vit_tiny_patch16_224",
        vision_kwargs={"img_size": IMAGE_SIZE, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2},
        projector=projector,
        text_config=_llama_text(tok).to_dict(),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
    )
    torch.manual_seed(seed)
    model = ComposedVLM(config)
    processor = ComposedProcessor.from_vision_model(model.vision_tower, tok, image_token="<image>")
    return _save(model, processor, out_dir)


# a text-only chat template: the composed backbone puts the image token inline in the content string
COMPOSED_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}USER: {{ m['content'] }} "
    "{% else %}ASSISTANT: {{ m['content'] }}</s>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

# family -> (builder, registry name of the backbone adapter)
TINY_FAMILIES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "llava": (tiny_llava, "llava"),
    "llava_next": (tiny_llava_next, "llava_next"),
    "qwen2_vl": (tiny_qwen2_vl, "qwen2_vl"),
    "qwen25_vl": (tiny_qwen25_vl, "qwen2_vl"),
    "idefics3": (tiny_idefics3, "idefics3"),
    "paligemma": (tiny_paligemma, "paligemma"),
    "composed": (tiny_composed, "composed"),
}
