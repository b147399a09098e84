"""`LLMInjector`: hallucination injection by any OpenAI-compatible chat model (POVID used GPT-4V)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from lightning_csr.data.injection.base import (
    HallucinationInjector,
    Injection,
    InjectionError,
    InjectionRequest,
    differs,
)
from lightning_csr.evaluation.judge import JudgeClient, JudgeError, JudgeSettings

PROMPT_TEMPLATE = """You help build training data that teaches vision-language assistants not to hallucinate.
Below is a question about an image and a CORRECT answer to it. Rewrite the answer so that it contains exactly \
{num_edits} plausible hallucination(s) of these kinds:
- an object that often appears together with the objects mentioned, but is not in the image{absent_hint};
- a wrong attribute of a mentioned object (colour, size, number, material, state);
- a wrong relation between objects (position, direction, who does what to whom).
Keep every other word of the answer exactly as it is: same length, same style, same sentence order. The errors must \
read naturally and must not be marked, hedged or explained. Never return the correct answer unchanged.
Reply with the rewritten answer only.

Question: {prompt}
Correct answer: {answer}
Rewritten answer:"""

_PREFIXES = ("rewritten answer:", "answer:", "rewritten:")


def injection_prompt(answer: str, prompt: str = "", num_edits: int = 2, present: Collection[str] = ()) -> str:
    """The instruction sent to the chat model for one answer."""
    hint = f" (the image really contains: {', '.join(sorted(present))})" if present else ""
    return PROMPT_TEMPLATE.format(
        num_edits=num_edits,
        absent_hint=hint,
        prompt=prompt or "Describe this image in detail.",
        answer=answer,
    )


def clean_reply(reply: str) -> str:
    """The rewritten answer from a reply: strip a leading label and matching outer quotes."""
    text = reply.strip()
    for prefix in _PREFIXES:
        if text.lower().startswith(prefix):
            text = text[len(prefix) :].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


class LLMInjector(HallucinationInjector):
    """Asks a chat model to inject `num_edits` hallucinations; retries, concurrency and the disk cache come
    from `JudgeClient`. The API key is read from `api_key_env` and never logged, cached or written.

    Args:
        base_url: the API root, e.g. `https://api.openai.com/v1` or a local vLLM server.
        model: the chat model name.
        api_key_env: environment variable holding the key (None: no key, e.g. a local server).
        cache_path: JSON cache of replies keyed by (model, prompt); reruns cost nothing.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        num_edits: int = 2,
        api_key_env: str | None = "OPENAI_API_KEY",
        cache_path: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        max_concurrency: int = 4,
        max_retries: int = 5,
        client: JudgeClient | None = None,
    ) -> None:
        if num_edits < 1:
            raise ValueError(f"num_edits must be >= 1, got {num_edits}")
        self.num_edits = num_edits
        self.client = client or JudgeClient(
            JudgeSettings(
                base_url=base_url,
                model=model,
                api_key_env=api_key_env,
                temperature=temperature,
                max_tokens=max_tokens,
                max_concurrency=max_concurrency,
                max_retries=max_retries,
                cache_path=cache_path,
            )
        )

    def _prompt(self, request: InjectionRequest) -> str:
        return injection_prompt(request.answer, request.prompt, self.num_edits, request.present)

    def _result(self, request: InjectionRequest, reply: str) -> Injection:
        text = clean_reply(reply)
        if not text or not differs(request.answer, text):
            raise InjectionError(f"{request.key or 'answer'}: the model returned the answer unchanged")
        return Injection(text)

    def inject(
        self, answer: str, key: str = "", prompt: str = "", present: Collection[str] = ()
    ) -> Injection:
        """One hallucinated answer; InjectionError when the model fails or returns the original."""
        request = InjectionRequest(answer, key, prompt, frozenset(present))
        try:
            reply = self.client.complete(self._prompt(request))
        except JudgeError as error:
            raise InjectionError(f"{key or 'answer'}: {error}") from None
        return self._result(request, reply)

    def inject_many(self, requests: Sequence[InjectionRequest]) -> list[Injection | InjectionError]:
        """All requests, sent concurrently; failures are returned in place."""
        replies = self.client.complete_many([self._prompt(r) for r in requests], return_exceptions=True)
        results: list[Injection | InjectionError] = []
        for request, reply in zip(requests, replies, strict=True):
            if isinstance(reply, JudgeError):
                results.append(InjectionError(f"{request.key or 'answer'}: {reply}"))
                continue
            try:
                results.append(self._result(request, reply))
            except InjectionError as error:
                results.append(error)
        return results
