"""lightning_csr: preference optimisation against hallucination for vision-language models."""

__version__ = "0.1.0"
