"""`ComposedVLM`: any timm vision encoder + a linear/MLP projector + any Hugging Face causal LM, as one model."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    GenerationMixin,
    PretrainedConfig,
    PreTrainedModel,
)

from lightning_csr.backbones.batches import ImageTokenMismatchError

PROJECTORS = ("linear", "mlp2x_gelu")


class ComposedVLMConfig(PretrainedConfig):
    """Names the timm encoder (and its kwargs), the projector kind and the language model's config.

    Args:
        vision_model: a timm model name (`vit_base_patch16_clip_224.openai`, `vit_so400m_patch14_siglip_384`, ...).
        vision_kwargs: extra `timm.create_model` arguments (`img_size`, `depth`, ... for tiny test encoders).
        projector: `linear` or `mlp2x_gelu` (LLaVA-1.5's two-layer MLP).
        text_config: the causal LM's config (a dict with `model_type`, or a config object).
        image_token_id: the placeholder token replaced by image features.
        num_image_tokens: features per image (filled in from the encoder when the model is first built).
    """

    model_type = "lightning_csr_composed"
    sub_configs = {"text_config": AutoConfig}

    def __init__(
        self,
        vision_model: str = "vit_base_patch16_clip_224.openai",
        vision_kwargs: dict[str, Any] | None = None,
        projector: str = "mlp2x_gelu",
        text_config: dict[str, Any] | PretrainedConfig | None = None,
        image_token_id: int | None = None,
        num_image_tokens: int | None = None,
        vision_hidden_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        if projector not in PROJECTORS:
            raise ValueError(f"projector: expected one of {PROJECTORS}, got {projector!r}")
        if isinstance(text_config, dict):
            text_config = dict(text_config)
            text_config = AutoConfig.for_model(text_config.pop("model_type", "llama"), **text_config)
        self.vision_model = vision_model
        self.vision_kwargs = dict(vision_kwargs or {})
        self.projector = projector
        self.text_config = text_config
        self.image_token_id = image_token_id
        self.num_image_tokens = num_image_tokens
        self.vision_hidden_size = vision_hidden_size
        super().__init__(**kwargs)


def build_projector(kind: str, vision_size: int, text_size: int) -> nn.Module:
    """Linear map or LLaVA-1.5's Linear-GELU-Linear from vision features to LM embeddings."""
    if kind == "linear":
        return nn.Linear(vision_size, text_size)
    return nn.Sequential(nn.Linear(vision_size, text_size), nn.GELU(), nn.Linear(text_size, text_size))


def encoder_token_features(encoder: nn.Module, pixel_values: torch.Tensor) -> torch.Tensor:
    """[images, tokens, dim] from timm `forward_features`: ViT prefix tokens dropped, CNN maps flattened."""
    features = encoder.forward_features(pixel_values)
    if features.ndim == 4:  # CNN: [B, C, H, W] (or NHWC for a few families)
        nhwc = getattr(encoder, "output_fmt", "NCHW") == "NHWC"
        return features.flatten(1, 2) if nhwc else features.flatten(2).transpose(1, 2)
    return features[:, getattr(encoder, "num_prefix_tokens", 0) :]


class ComposedVLM(PreTrainedModel, GenerationMixin):
    """A timm encoder, a projector and a causal LM: image-placeholder embeddings become projected features."""

    config_class = ComposedVLMConfig
    base_model_prefix = ""
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _no_split_modules: list[str] = []

    def __init__(
        self,
        config: ComposedVLMConfig,
        vision_tower: nn.Module | None = None,
        language_model: nn.Module | None = None,
    ) -> None:
        super().__init__(config)
        import timm

        self.vision_tower = vision_tower or timm.create_model(
            config.vision_model, pretrained=False, num_classes=0, **config.vision_kwargs
        )
        self.language_model = language_model or AutoModelForCausalLM.from_config(
            config.text_config, attn_implementation=config._attn_implementation
        )
        if config.num_image_tokens is None or config.vision_hidden_size is None:
            config.num_image_tokens, config.vision_hidden_size = encoder_output_shape(self.vision_tower)
        self.multi_modal_projector = build_projector(
            config.projector, config.vision_hidden_size, config.text_config.hidden_size
        )
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # timm and the causal LM initialise themselves; the projector keeps torch's default init
        return

    @classmethod
    def from_parts(
        cls,
        vision_tower: nn.Module,
        language_model: PreTrainedModel,
        projector: str,
        image_token_id: int,
        vision_model: str,
        vision_kwargs: dict[str, Any] | None = None,
    ) -> ComposedVLM:
        """Wrap an already loaded encoder and LM (pretrained or quantised) with a new projector."""
        config = ComposedVLMConfig(
            vision_model=vision_model,
            vision_kwargs=vision_kwargs,
            projector=projector,
            text_config=language_model.config,
            image_token_id=image_token_id,
        )
        embeddings = language_model.get_input_embeddings().weight
        model = cls(config, vision_tower=vision_tower, language_model=language_model)
        for part in (model.vision_tower, model.multi_modal_projector):
            part.to(device=embeddings.device, dtype=embeddings.dtype)
        return model

    # ----------------------------------------------------------------- embeddings
    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.language_model.get_output_embeddings()

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Projected features [images, tokens, lm_hidden]."""
        dtype = next(self.vision_tower.parameters()).dtype
        features = encoder_token_features(self.vision_tower, pixel_values.to(dtype))
        return self.multi_modal_projector(features.to(self.multi_modal_projector_dtype))

    @property
    def multi_modal_projector_dtype(self) -> torch.dtype:
        return next(self.multi_modal_projector.parameters()).dtype

    def merge_image_features(
        self, input_ids: torch.Tensor, embeds: torch.Tensor, features: torch.Tensor
    ) -> torch.Tensor:
        """Put the image features where the placeholders are; counts must agree row by row."""
        mask = input_ids == self.config.image_token_id
        per_image = features.shape[1]
        counts = mask.sum(dim=1)
        if int(counts.sum()) != features.shape[0] * per_image or bool((counts % per_image).any()):
            raise ImageTokenMismatchError(
                f"Image features and image tokens do not match: rows hold {counts.tolist()} image tokens, "
                f"{features.shape[0]} images give {per_image} features each"
            )
        flat = features.reshape(-1, features.shape[-1]).to(embeds.dtype)
        return embeds.masked_scatter(mask.unsqueeze(-1), flat)

    # -------------------------------------------------------------------- forward
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        **kwargs: Any,
    ):
        """Causal-LM outputs of the LM on text embeddings with image placeholders replaced by image features."""
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        if pixel_values is not None:
            if input_ids is None:
                raise ValueError("ComposedVLM: pixel_values need input_ids to locate the image tokens")
            inputs_embeds = self.merge_image_features(
                input_ids, inputs_embeds, self.image_features(pixel_values)
            )
        return self.language_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs)

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        is_first_iteration: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Image features only in the prefill step; later steps reuse the KV cache."""
        inputs = super().prepare_inputs_for_generation(
            input_ids, is_first_iteration=is_first_iteration, **kwargs
        )
        if is_first_iteration or not kwargs.get("use_cache", True):
            inputs["pixel_values"] = pixel_values
        return inputs


def encoder_data_config(encoder: nn.Module) -> dict[str, Any]:
    """timm's eval data config (size, mean, std, interpolation, crop) for the encoder as built."""
    from timm.data import resolve_model_data_config

    config = dict(resolve_model_data_config(encoder))
    img_size = getattr(getattr(encoder, "patch_embed", None), "img_size", None)
    if img_size is not None:  # a ViT built with a non-default `img_size` only accepts that size
        config["input_size"] = (config["input_size"][0], *img_size)
    config["input_size"] = list(config["input_size"])
    return config


@torch.no_grad()
def encoder_output_shape(encoder: nn.Module) -> tuple[int, int]:
    """(tokens per image, feature size) of a timm encoder at its input size."""
    size = encoder_data_config(encoder)["input_size"]
    param = next(encoder.parameters())
    device = param.device if param.device.type != "meta" else torch.device("meta")
    features = encoder_token_features(encoder, torch.zeros(1, *size, device=device, dtype=param.dtype))
    return int(features.shape[1]), int(features.shape[2])


# importing this module lets AutoConfig / AutoModelForImageTextToText load saved composed models
AutoConfig.register(ComposedVLMConfig.model_type, ComposedVLMConfig, exist_ok=True)
AutoModelForImageTextToText.register(ComposedVLMConfig, ComposedVLM, exist_ok=True)
