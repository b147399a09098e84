"""Offline-trained word-level tokenizer and LlavaProcessor for ShapeWorld."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoProcessor, CLIPImageProcessor, LlavaProcessor, PreTrainedTokenizerFast

from lightning_csr.shapeworld.world.settings import WorldSettings

PAD, BOS, EOS, UNK, IMAGE = "<pad>", "<s>", "</s>", "<unk>", "<image>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, EOS, UNK, IMAGE)
# USER: <image>\n{text} ASSISTANT: {answer}</s>  (answer wrapped in generation markers for assistant masks)
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['content'] is string %}{% set items = [{'type': 'text', 'text': message['content']}] %}"
    "{% else %}{% set items = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}USER: "
    "{% for item in items %}{% if item['type'] == 'image' %}<image>\n{% endif %}{% endfor %}"
    "{% for item in items %}{% if item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}"
    "{% elif message['role'] == 'assistant' %} ASSISTANT: {% generation %}"
    "{% for item in items %}{% if item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}"
    "</s>{% endgeneration %}"
    "{% elif message['role'] == 'system' %}"
    "{% for item in items %}{% if item['type'] == 'text' %}{{ item['text'] }} {% endif %}{% endfor %}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %} ASSISTANT:{% endif %}"
)


@dataclass(frozen=True)
class ProcessorSpec:
    """The numbers a vision tower and LLaVA config must match."""

    image_size: int
    patch_size: int
    image_tokens: int
    vocab_size: int
    image_token_id: int
    pad_token_id: int
    bos_token_id: int
    eos_token_id: int


def train_tokenizer(corpus: Iterable[str]) -> Tokenizer:
    """Word-level tokenizer over byte-level pre-tokens (exact decode), trained on the corpus."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.WordLevelTrainer(
        special_tokens=list(SPECIAL_TOKENS), min_frequency=1, show_progress=False
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, tokenizer.token_to_id(BOS))]
    )
    return tokenizer


def _chat_lines(corpus: Iterable[str]) -> Iterable[str]:
    """Corpus lines plus the same lines as chat turns, so template words and newlines get tokens."""
    for text in corpus:
        yield text
        yield f"USER: \n{text} ASSISTANT: {text}"


def build_processor(
    world: WorldSettings, corpus: Iterable[str], out_dir: str | Path, patch_size: int = 8
) -> LlavaProcessor:
    """Train the tokenizer, wrap it with a CLIP image processor in a LlavaProcessor, save and reload it."""
    if world.image_size % patch_size:
        raise ValueError(f"patch_size {patch_size} must divide image_size {world.image_size}")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=train_tokenizer(_chat_lines(corpus)),
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=PAD,
        image_token=IMAGE,
        padding_side="right",
        chat_template=CHAT_TEMPLATE,
    )
    processor = llava_processor(tokenizer, world.image_size, patch_size)
    processor.save_pretrained(str(out_dir))
    loaded = AutoProcessor.from_pretrained(str(out_dir))
    expected = processor_spec(processor)
    if processor_spec(loaded) != expected:
        raise RuntimeError(
            f"processor saved in {out_dir} reloads differently: {processor_spec(loaded)} != {expected}"
        )
    return loaded


def llava_processor(
    tokenizer: PreTrainedTokenizerFast, image_size: int, patch_size: int, chat_template: str = CHAT_TEMPLATE
) -> LlavaProcessor:
    """A LlavaProcessor for square images of image_size px and a CLIP tower with a CLS token."""
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=chat_template,
    )


def processor_spec(processor: LlavaProcessor) -> ProcessorSpec:
    """Image size, patch size, image tokens per image, vocabulary size and special ids of a processor."""
    side = processor.image_processor.crop_size["height"]
    tokens = (side // processor.patch_size) ** 2 + processor.num_additional_image_tokens
    if processor.vision_feature_select_strategy == "default":
        tokens -= 1
    tokenizer = processor.tokenizer
    return ProcessorSpec(
        image_size=side,
        patch_size=processor.patch_size,
        image_tokens=tokens,
        vocab_size=len(tokenizer),
        image_token_id=processor.image_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
