"""The `HallucinationInjector` interface: rewrite a correct answer into a plausible, hallucinated one (POVID)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field


class InjectionError(ValueError):
    """No hallucinated version could be made (too few editable facts, or an unusable rewrite)."""


@dataclass(frozen=True)
class Edit:
    """One changed fact: its kind (object, attribute, relation), the text before and after, and where."""

    kind: str
    before: str
    after: str
    start: int


@dataclass(frozen=True)
class InjectionRequest:
    """A correct answer to corrupt; `key` seeds the edits, `present` names objects truly in the image."""

    answer: str
    key: str = ""
    prompt: str = ""
    present: frozenset[str] = frozenset()


@dataclass
class Injection:
    """The hallucinated answer and, when the injector knows them, the edits that produced it."""

    text: str
    edits: list[Edit] = field(default_factory=list)


class HallucinationInjector(ABC):
    """Turns a correct answer into a dispreferred one that differs from it; never returns the original."""

    @abstractmethod
    def inject(
        self, answer: str, key: str = "", prompt: str = "", present: Collection[str] = ()
    ) -> Injection:
        """A hallucinated version of `answer`; raises InjectionError when none can be made."""

    def inject_many(self, requests: Sequence[InjectionRequest]) -> list[Injection | InjectionError]:
        """Inject every request; failures are returned in place (so one bad answer does not stop a run)."""
        results: list[Injection | InjectionError] = []
        for request in requests:
            try:
                results.append(self.inject(request.answer, request.key, request.prompt, request.present))
            except InjectionError as error:
                results.append(error)
        return results


def differs(original: str, rewritten: str) -> bool:
    """Whether a rewrite changes more than whitespace and letter case."""
    return " ".join(original.lower().split()) != " ".join(rewritten.lower().split())
