"""A settings field added later, marked `omit_at_default`, leaves the digests of earlier settings unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from lightning_csr.backbones.settings import QuantizationSettings
from lightning_csr.data.provenance import settings_digest


@dataclass
class Before:
    bits: int = 4


@dataclass
class After:
    bits: int = 4
    storage: str | None = field(default=None, metadata={"omit_at_default": True})


def test_a_later_field_at_its_default_keeps_the_digest() -> None:
    assert settings_digest(After()) == settings_digest(Before())
    assert settings_digest(After(storage="bfloat16")) != settings_digest(Before())


def test_quant_storage_is_such_a_field() -> None:
    unset, stored = QuantizationSettings(bits=4), QuantizationSettings(bits=4, quant_storage="bfloat16")
    earlier = {f.name: getattr(unset, f.name) for f in fields(unset) if f.name != "quant_storage"}
    assert settings_digest(unset) == settings_digest(earlier)  # what runs before the field was added stored
    assert settings_digest(stored) != settings_digest(unset)
