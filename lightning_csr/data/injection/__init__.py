"""Hallucination injection for POVID-style preference pairs: rule-based (exact on ShapeWorld) or LLM-based."""

from lightning_csr.data.injection.answers import AnswerRecord, inject_pairs, read_answers
from lightning_csr.data.injection.base import (
    Edit,
    HallucinationInjector,
    Injection,
    InjectionError,
    InjectionRequest,
)
from lightning_csr.data.injection.llm import LLMInjector, injection_prompt
from lightning_csr.data.injection.rule_based import EDIT_KINDS, RuleBasedInjector
from lightning_csr.data.injection.vocabulary import InjectionVocabulary

__all__ = [
    "AnswerRecord",
    "EDIT_KINDS",
    "Edit",
    "HallucinationInjector",
    "Injection",
    "InjectionError",
    "InjectionRequest",
    "InjectionVocabulary",
    "LLMInjector",
    "RuleBasedInjector",
    "inject_pairs",
    "injection_prompt",
    "read_answers",
]
