"""Full-size VLMs with random weights, built straight into bitsandbytes 4-bit on one device (no hub, no host copy).

The model is first built on the device with a single language-model layer (vision tower, projector, embeddings,
output head and that layer in bf16, initialised as transformers does). Each further decoder layer is then
created on the device, its linear layers quantised to NF4 at once, and appended; the config gets its real layer
count back. Building never holds more than the unquantised parts plus one full-precision layer.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def default_dtype(dtype: torch.dtype):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def quantize_linears(module: torch.nn.Module, compute_dtype: torch.dtype, quant_type: str = "nf4") -> int:
    """Replace every `nn.Linear` under `module` by a bitsandbytes `Linear4bit` of its weights; returns how many."""
    import bitsandbytes as bnb

    count = 0
    for name, child in list(module.named_children()):
        if not isinstance(child, torch.nn.Linear):
            count += quantize_linears(child, compute_dtype, quant_type)
            continue
        device = child.weight.device
        layer = bnb.nn.Linear4bit(
            child.in_features,
            child.out_features,
            bias=child.bias is not None,
            compute_dtype=compute_dtype,
            compress_statistics=True,  # double quantisation, as QLoRA
            quant_type=quant_type,
            device="meta",
        )
        weight = child.weight.data.to(compute_dtype)
        params = bnb.nn.Params4bit(
            weight, requires_grad=False, compress_statistics=True, quant_type=quant_type, module=layer
        )
        layer.weight = params.to(device)  # quantises on the way
        if child.bias is not None:
            layer.bias = torch.nn.Parameter(child.bias.data.to(compute_dtype), requires_grad=False)
        setattr(module, name, layer)
        del child, weight
        count += 1
    return count


def _set_layers(config, count: int, layer_types: list[str] | None) -> None:
    config.num_hidden_layers = count
    if layer_types is not None:
        config.layer_types = layer_types[:count]


def build_random_4bit(model_class, config, device: str | torch.device, dtype: torch.dtype = torch.bfloat16):
    """`model_class` from `config` with random weights, its language-model decoder layers in 4-bit on `device`."""
    text = config.get_text_config()
    total, layer_types = text.num_hidden_layers, getattr(text, "layer_types", None)
    _set_layers(text, 1, layer_types)
    with torch.device(device):
        model = model_class._from_config(config, dtype=dtype, attn_implementation="sdpa")
    decoder = model.get_decoder()
    for own in {id(c): c for c in (model.config.get_text_config(), decoder.config, text)}.values():
        _set_layers(own, total, layer_types)
    layer_class = type(decoder.layers[0])
    quantize_linears(decoder.layers[0], dtype)
    for index in range(1, total):
        with torch.device(device), default_dtype(dtype):
            layer = layer_class(decoder.config, index)
        quantize_linears(layer, dtype)
        decoder.layers.append(layer)
    model.is_loaded_in_4bit = True
    return model


def random_backbone(family: str, folder, rank: int, device: str | torch.device, config=None):
    """The family's adapter over the real processor in `folder`, its model the real config (or `config`, a
    directory) with random 4-bit weights on `device`; LoRA of rank `rank`, gradient checkpointing."""
    from lightning_csr.backbones import LoraSettings, QuantizationSettings, backbone_class

    class RandomFourBit(backbone_class(family)):
        def load_model(self) -> torch.nn.Module:
            return build_random_4bit(self.model_class(), self._build_config(), device)

    return RandomFourBit(
        config=str(config or folder),
        processor_id=str(folder),
        quantization=QuantizationSettings(bits=4),
        lora=LoraSettings(r=rank, alpha=2 * rank),
        gradient_checkpointing=True,
        dtype="bfloat16",
    )
