"""The backbone adapter protocol: everything family-specific about a VLM lives behind it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from PIL import Image

from lightning_csr.backbones import batches
from lightning_csr.backbones.settings import LoraSettings, QuantizationSettings, resolve_dtype

LANGUAGE_MODEL_LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class Backbone:
    """Adapter for one VLM family: loading, processor, chat template, batches, LoRA targets, frozen parts.

    Args:
        model_id: a Hub id or a local directory loaded with `from_pretrained` (the real path).
        processor_id: where the processor lives, when it differs from `model_id`.
        config: a model config (dict or directory) to build a randomly initialised model (tests only).
        quantization: bitsandbytes settings (4-bit QLoRA on one GPU).
        lora: LoRA settings; None trains the unfrozen weights directly.
        dtype: parameter dtype of the non-quantised weights.
        train_projector: also train the vision-language projector.
        train_vision_tower: also train the vision tower (from-scratch tiny models; off for real VLMs).
        gradient_checkpointing: non-reentrant activation checkpointing of the language model.
        attn_implementation: passed to transformers (`sdpa`, `eager`, `flash_attention_2`).
    """

    family: ClassVar[str] = "base"
    model_class_name: ClassVar[str] = "AutoModelForImageTextToText"
    language_model_pattern: ClassVar[str] = r"language_model"
    vision_patterns: ClassVar[tuple[str, ...]] = ("vision_tower",)
    projector_patterns: ClassVar[tuple[str, ...]] = ("multi_modal_projector",)
    # per-token side inputs and the value they take on response tokens
    token_level_inputs: ClassVar[dict[str, int]] = {}
    # inputs consumed by the image encoder (replaced by precomputed `mm_encoder_outputs` when shared)
    image_input_keys: ClassVar[tuple[str, ...]] = ("pixel_values", "image_sizes")
    # whether `image_inputs` can slice a batch's images by row (enables encoding each image once per step)
    shares_image_features: ClassVar[bool] = False

    def __init__(
        self,
        model_id: str | None = None,
        processor_id: str | None = None,
        config: dict[str, Any] | str | None = None,
        quantization: QuantizationSettings | None = None,
        lora: LoraSettings | None = None,
        dtype: str = "float32",
        train_projector: bool = False,
        train_vision_tower: bool = False,
        gradient_checkpointing: bool = False,
        attn_implementation: str | None = "sdpa",
        revision: str | None = None,
    ) -> None:
        if model_id is None and config is None:
            raise ValueError(f"{type(self).__name__}: give `model_id` (a checkpoint) or `config` (tests)")
        if config is not None and processor_id is None and model_id is None:
            raise ValueError(f"{type(self).__name__}: a `config`-built model needs `processor_id`")
        self.model_id = model_id
        self.processor_id = processor_id or model_id
        self.config = config
        self.quantization = quantization or QuantizationSettings()
        self.lora = lora
        self.dtype = dtype
        self.train_projector = train_projector
        self.train_vision_tower = train_vision_tower
        self.gradient_checkpointing = gradient_checkpointing
        self.attn_implementation = attn_implementation
        self.revision = revision
        resolve_dtype(dtype)
        self._processor = None
        self._response_context: tuple[str, list[int]] | None = None

    # ----------------------------------------------------------------- loading
    @property
    def processor(self):
        """The family's processor, loaded once from `processor_id`."""
        if self._processor is None:
            self._processor = self.load_processor()
        return self._processor

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    def load_processor(self):
        from transformers import AutoProcessor

        try:
            return AutoProcessor.from_pretrained(self.processor_id, revision=self.revision)
        except (OSError, ValueError) as err:
            raise FileNotFoundError(
                f"{type(self).__name__}: could not load a processor from {self.processor_id!r}: {err}"
            ) from err

    def model_class(self):
        import transformers

        return getattr(transformers, self.model_class_name)

    def load_model(self) -> torch.nn.Module:
        """Load (or build from config) the model, quantised if configured; no adapters yet."""
        cls = self.model_class()
        dtype = resolve_dtype(self.dtype)
        if self.config is not None and self.model_id is None:
            config = self._build_config()
            if self.quantization.bits is not None:
                raise ValueError("quantization needs a saved checkpoint (`model_id`), not a bare `config`")
            build = cls.from_config if cls.__name__.startswith("Auto") else cls._from_config
            return build(config, dtype=dtype, attn_implementation=self.attn_implementation)
        kwargs: dict[str, Any] = {"dtype": dtype, "revision": self.revision}
        if self.attn_implementation:
            kwargs["attn_implementation"] = self.attn_implementation
        bnb = self.quantization.to_bnb(self.unquantized_modules())
        if bnb is not None:
            kwargs["quantization_config"] = bnb
            kwargs["device_map"] = {"": torch.cuda.current_device() if torch.cuda.is_available() else "cpu"}
        try:
            return cls.from_pretrained(self.model_id, **kwargs)
        except OSError as err:
            raise FileNotFoundError(
                f"{type(self).__name__}: could not load model {self.model_id!r}: {err}"
            ) from err

    def _build_config(self):
        from transformers import AutoConfig

        if isinstance(self.config, str):
            return AutoConfig.from_pretrained(self.config)
        config = dict(self.config)
        return AutoConfig.for_model(config.pop("model_type"), **config)

    # ----------------------------------------------------------- parameters
    def unquantized_modules(self) -> list[str]:
        """Module-name regexes kept out of bitsandbytes quantisation: vision tower, projector, output head."""
        return [rf".*{p}" for p in (*self.vision_patterns, *self.projector_patterns)] + ["lm_head"]

    def vision_module_names(self, model: torch.nn.Module) -> list[str]:
        return [n for n, _ in model.named_modules() if any(n.endswith(p) for p in self.vision_patterns)]

    def lora_target_regex(self) -> str:
        """Regex over module names: the language model's linear layers (peft full-matches it)."""
        targets = (
            self.lora.target_modules if self.lora and self.lora.target_modules else LANGUAGE_MODEL_LINEARS
        )
        return rf".*{self.language_model_pattern}.*\.({'|'.join(map(re.escape, targets))})"

    def is_frozen(self, name: str) -> bool:
        """Whether a parameter stays frozen during full fine-tuning (vision tower; projector unless trained)."""
        if any(
            p in name for p in self.projector_patterns
        ):  # first: some projectors sit inside the vision module
            return not self.train_projector
        if any(p in name for p in self.vision_patterns):
            return not self.train_vision_tower
        return False

    # ------------------------------------------------------------- batches
    def prompt_messages(self, prompt: str) -> list[dict[str, Any]]:
        return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]

    def prompt_text(self, prompt: str) -> str:
        """The user prompt with the chat template and the generation prompt applied."""
        return self.processor.apply_chat_template(self.prompt_messages(prompt), add_generation_prompt=True)

    def prepare_images(self, images: Sequence[Image.Image]) -> list[Image.Image]:
        return [img.convert("RGB") for img in images]

    @property
    def end_of_turn_id(self) -> int:
        return self.tokenizer.eos_token_id

    @property
    def image_token_id(self) -> int:
        token = getattr(self.processor, "image_token", None) or "<image>"
        return self.tokenizer.convert_tokens_to_ids(token)

    def response_text_ids(self, response: str) -> list[int]:
        """A response's text as token ids, no end token (tokenised on its own; see `templated_response_ids`)."""
        return self.tokenizer(response, add_special_tokens=False)["input_ids"]

    def response_ids(self, response: str, token_ids: Sequence[int] | None = None) -> list[int]:
        """Token ids of a response (its text tokenised, or `token_ids` as sampled) and one end-of-turn token."""
        if token_ids is None:
            return self.response_text_ids(response) + [self.end_of_turn_id]
        ids = [int(t) for t in token_ids]
        if ids and ids[-1] in {self.end_of_turn_id, self.tokenizer.eos_token_id}:
            ids.pop()  # an answer that ended itself; a capped one has no end token
        return ids + [self.end_of_turn_id]

    # batches (backbones/batches.py): left-padded prompts, right-padded training rows, image-token checks
    prompt_batch = batches.prompt_batch
    collate = batches.collate
    check_image_tokens = batches.check_image_tokens

    def model_inputs(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The subset of a batch the model's forward takes."""
        skip = {"completion_mask", "ids", "ref_logps"}
        return {k: v for k, v in batch.items() if k not in skip and not k.startswith("meta_")}

    def image_inputs(self, batch: dict[str, Any], rows: int) -> dict[str, Any]:
        """Image-encoder inputs of the first `rows` samples (one image each)."""
        return {k: batch[k][:rows] for k in self.image_input_keys if k in batch}

    def image_features_reusable(self) -> bool:
        """Image features are the same for policy and reference (frozen encoder and projector, LM-only LoRA)."""
        return self.shares_image_features and not (self.train_projector or self.train_vision_tower)

    def expected_image_tokens(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Image tokens each row must contain, when the family can tell from the batch alone."""
        return None

    def describe(self) -> str:
        return f"{self.family}:{self.model_id or 'config'}"
