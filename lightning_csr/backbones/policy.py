"""Turn a loaded VLM into a trainable policy: freezing, LoRA/QLoRA, gradient checkpointing."""

from __future__ import annotations

import torch

from lightning_csr.backbones.base import Backbone


def disable_dropout(model: torch.nn.Module) -> None:
    """Set every dropout probability to 0 so policy and reference see the same function."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


def build_policy(backbone: Backbone, model: torch.nn.Module | None = None) -> torch.nn.Module:
    """Load the backbone's model and make it trainable as configured (LoRA targets the LM only)."""
    model = backbone.load_model() if model is None else model
    quantized = backbone.quantization.bits is not None
    if backbone.lora is None:
        if quantized:
            raise ValueError("a quantised model can only be trained through LoRA: set `lora`")
        for name, param in model.named_parameters():
            param.requires_grad_(not backbone.is_frozen(name))
    else:
        from peft import LoraConfig, get_peft_model

        for param in model.parameters():
            param.requires_grad_(False)
        modules_to_save = None
        if backbone.train_projector:
            modules_to_save = [n for n, _ in model.named_modules() if n.endswith(backbone.projector_patterns)]
        config = LoraConfig(
            r=backbone.lora.r,
            lora_alpha=backbone.lora.alpha,
            lora_dropout=backbone.lora.dropout,
            bias=backbone.lora.bias,
            target_modules=backbone.lora_target_regex(),
            modules_to_save=modules_to_save,
        )
        model = get_peft_model(model, config)
    if backbone.gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        if backbone.lora is not None:
            model.enable_input_require_grads()
    disable_dropout(model)
    # from_pretrained returns eval-mode modules and Lightning keeps submodule modes: without this the language
    # model would train in eval mode, where transformers skips gradient checkpointing
    model.train()
    return model
