"""LLMInjector against a scripted OpenAI-compatible server on 127.0.0.1: prompt, key, cache, failures, CLI."""

from __future__ import annotations

import json

import pytest

from lightning_csr.cli import main
from lightning_csr.data.injection import InjectionError, InjectionRequest, LLMInjector
from tests.evaluation.fake_openai_server import FakeOpenAIServer

KEY = "sk-test-secret-123"


def rewrite(prompt: str, number: int, authorization: str) -> tuple[int, str]:
    answer = prompt.split("Correct answer: ")[1].split("\n")[0]
    if "UNCHANGED" in answer:
        return 200, answer
    return 200, "Rewritten answer: " + answer.replace("dog", "cat").replace("red", "blue")


def test_injects_with_key_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INJECT_KEY", KEY)
    cache = tmp_path / "cache.json"
    with FakeOpenAIServer(rewrite) as server:
        injector = LLMInjector(
            server.base_url, "gpt-test", num_edits=2, api_key_env="INJECT_KEY", cache_path=str(cache)
        )
        result = injector.inject("A dog with a red ball.", key="a", prompt="Describe it.", present={"dog"})
        assert result.text == "A cat with a blue ball."
        assert server.authorizations == [f"Bearer {KEY}"]
        again = LLMInjector(server.base_url, "gpt-test", api_key_env="INJECT_KEY", cache_path=str(cache))
        assert (
            again.inject("A dog with a red ball.", key="a", prompt="Describe it.", present={"dog"}).text
            == result.text
        )
        assert server.requests == 1
        with pytest.raises(InjectionError):
            injector.inject("UNCHANGED answer")
        many = injector.inject_many([InjectionRequest("A red dog."), InjectionRequest("UNCHANGED")])
        assert many[0].text == "A blue cat." and isinstance(many[1], InjectionError)
    assert KEY not in cache.read_text()


def test_prompt_asks_for_povid_kinds_of_errors(tmp_path):
    prompts = []

    def record(prompt, number, authorization):
        prompts.append(prompt)
        return 200, "A cat."

    with FakeOpenAIServer(record) as server:
        LLMInjector(server.base_url, "m", num_edits=3, api_key_env=None).inject(
            "A dog.", prompt="What is it?"
        )
    text = prompts[0]
    assert "exactly 3" in text and "A dog." in text and "What is it?" in text
    for kind in ("appears together", "attribute", "relation"):
        assert kind in text


def test_cli_writes_pairs_with_llm(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INJECT_KEY", KEY)
    answers = tmp_path / "answers.jsonl"
    rows = [{"id": "1", "image": "a.png", "prompt": "Describe.", "response": "A red dog."},
            {"id": "2", "image": "b.png", "prompt": "Describe.", "response": "UNCHANGED"}]  # fmt: skip
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "pairs.jsonl"
    with FakeOpenAIServer(rewrite) as server:
        main(["povid", "inject", "--input", str(answers), "--out", str(out), "--injector", "llm",
              "--base-url", server.base_url, "--model", "m", "--api-key-env", "INJECT_KEY"])  # fmt: skip
    pairs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(p["id"], p["chosen"], p["rejected"]) for p in pairs] == [("1", "A red dog.", "A blue cat.")]
    printed = capsys.readouterr().out
    assert "1 failed" in printed and KEY not in printed
