"""Typed settings for quantisation and LoRA, usable as LightningCLI init args."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_dtype(name: str) -> torch.dtype:
    """Map a dtype name from a config to a torch dtype."""
    if name not in DTYPES:
        raise ValueError(f"dtype: unknown value {name!r}; choose one of {sorted(DTYPES)}")
    return DTYPES[name]


@dataclass
class QuantizationSettings:
    """bitsandbytes quantisation of the language model (4 = QLoRA, 8 = LLM.int8, None = off)."""

    bits: int | None = None
    quant_type: str = "nf4"
    double_quant: bool = True
    compute_dtype: str = "bfloat16"
    skip_modules: list[str] | None = None
    # dtype the packed 4-bit weights are stored in (FSDP needs compute_dtype); out of digests while unset
    quant_storage: str | None = field(default=None, metadata={"omit_at_default": True})

    def __post_init__(self) -> None:
        if self.bits not in (None, 4, 8):
            raise ValueError(f"quantization.bits: expected 4, 8 or null, got {self.bits!r}")
        if self.quant_type not in ("nf4", "fp4"):
            raise ValueError(f"quantization.quant_type: expected nf4 or fp4, got {self.quant_type!r}")
        resolve_dtype(self.compute_dtype)
        if self.quant_storage is not None:
            resolve_dtype(self.quant_storage)

    def to_bnb(self, default_skip: list[str] | None = None):
        """Return transformers' BitsAndBytesConfig, or None when quantisation is off.

        `skip_modules` (regexes matched from the start of a module name) stay unquantised; by default the
        backbone's vision tower, projector and output head.
        """
        if self.bits is None:
            return None
        from transformers import BitsAndBytesConfig

        skip = self.skip_modules if self.skip_modules is not None else default_skip
        if self.bits == 8:
            return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=self.quant_type,
            bnb_4bit_use_double_quant=self.double_quant,
            bnb_4bit_compute_dtype=resolve_dtype(self.compute_dtype),
            llm_int8_skip_modules=skip,
            **({"bnb_4bit_quant_storage": resolve_dtype(self.quant_storage)} if self.quant_storage else {}),
        )


@dataclass
class LoraSettings:
    """peft LoRA hyper-parameters; `target_modules=None` means the adapter's language-model default."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: list[str] | None = None
    bias: str = "none"

    def __post_init__(self) -> None:
        if self.r <= 0:
            raise ValueError(f"lora.r: must be positive, got {self.r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"lora.dropout: must be in [0, 1), got {self.dropout}")
