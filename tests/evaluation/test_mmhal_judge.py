"""MMHal-Bench: data loading, rating parsing, and the judge client against a fake local server."""

from __future__ import annotations

import json
import socket

import pytest
from PIL import Image

from lightning_csr.evaluation.judge import JudgeClient, JudgeError, JudgeSettings
from lightning_csr.evaluation.mmhal import (
    build_judge_prompt,
    evaluate_mmhal,
    load_mmhal,
    missing_image_message,
    parse_rating,
)
from tests.evaluation.fake_openai_server import FakeOpenAIServer

KEY_ENV = "LIGHTNING_CSR_TEST_JUDGE_KEY"
SECRET = "sk-test-secret-123"


def _entry(index: int, question_type: str, answer: str) -> dict[str, object]:
    return {
        "question_type": question_type,
        "question_topic": "animal",
        "image_id": f"img{index}",
        "image_src": f"https://example.org/photos/img{index}_o.jpg",
        "image_content": ["Dog", "Grass"],
        "question": "What colour is the dog?",
        "gt_answer": "The dog is brown.",
        "model_answer": answer,
    }


@pytest.fixture
def template(tmp_path):
    path = tmp_path / "response_template.json"
    entries = [
        _entry(0, "attribute", "ANSWER_A"),
        _entry(1, "counting", "ANSWER_B"),
        _entry(2, "attribute", "ANSWER_C"),
    ]
    path.write_text(json.dumps(entries))
    return path


@pytest.fixture
def key(monkeypatch) -> str:
    monkeypatch.setenv(KEY_ENV, SECRET)
    return SECRET


def _client(server: FakeOpenAIServer, sleeps: list[float] | None = None, **overrides: object) -> JudgeClient:
    config = JudgeSettings(
        base_url=server.base_url, model="judge-1", api_key_env=KEY_ENV, backoff_s=0.01, **overrides
    )
    return JudgeClient(config, sleep=(sleeps.append if sleeps is not None else lambda _: None))


def _by_answer(prompt: str, number: int, auth: str) -> tuple[int, str]:
    if "ANSWER_A" in prompt:
        return 200, f"Accurate and detailed.\nRating: 5 (request sent with {auth})"
    if "ANSWER_B" in prompt:
        return 200, "It invents a cat.\nRating: 1"
    return 200, "I am not sure how to grade this."


@pytest.mark.parametrize(
    ("text", "rating"),
    [("Good.\nRating: 4", 4), ("**Rating:** 6", 6), ("rating=0", 0), ("Rating: 7", None), ("no verdict", None),
     ("Rating: 2 ... on reflection Rating: 5", None), ("Rating: 3\nRating: 3", 3)],
)  # fmt: skip
def test_parse_rating(text: str, rating: int | None) -> None:
    assert parse_rating(text) == rating


def test_prompt_shows_contents_question_reference_and_response(template) -> None:
    item = load_mmhal(template).items[0]
    prompt = build_judge_prompt(item, "A brown dog.")
    for part in ("Dog, Grass", "What colour is the dog?", "The dog is brown.", "A brown dog.", "Rating:"):
        assert part in prompt


def test_ratings_unparsed_and_summary(template, key) -> None:
    items = load_mmhal(template).items
    with FakeOpenAIServer(_by_answer) as server:
        result = evaluate_mmhal(items, _client(server))
    assert [entry["rating"] for entry in result["per_item"]] == [5, 1, 0]
    assert result["unparsed"] == [2] and result["judge_failed"] == [] and result["missing"] == []
    assert result["average_score"] == pytest.approx(2.0)
    assert result["hallucination_rate"] == pytest.approx(2 / 3)
    assert result["per_type"] == {"attribute": pytest.approx(2.5), "counting": pytest.approx(1.0)}
    assert server.authorizations == [f"Bearer {key}"] * 3
    assert key not in repr(_client(server))


def test_answers_override_template_and_missing_are_listed(template, key) -> None:
    items = load_mmhal(template).items
    with FakeOpenAIServer(_by_answer) as server:
        result = evaluate_mmhal(items, _client(server), answers={0: "ANSWER_B", 1: "ANSWER_B", 2: "  "})
    assert result["missing"] == [2] and result["n_rated"] == 2 and result["average_score"] == 1.0


def test_retries_with_exponential_backoff_after_500(key) -> None:
    sleeps: list[float] = []
    with FakeOpenAIServer(lambda p, n, a: (500, "boom") if n <= 2 else (200, "Rating: 4")) as server:
        assert _client(server, sleeps, max_retries=3).complete("hello") == "Rating: 4"
    assert server.requests == 3 and sleeps == pytest.approx([0.01, 0.02])


def test_429_and_garbage_bodies_are_retried(key) -> None:
    replies = {1: (429, "slow down"), 2: (200, "RAW:<html>not json</html>"), 3: (200, "Rating: 2")}
    with FakeOpenAIServer(lambda p, n, a: replies[n]) as server:
        assert _client(server, max_retries=3).complete("hello") == "Rating: 2"
    assert server.requests == 3


def test_judge_down_is_a_clear_error_or_listed_zero(template, key) -> None:
    items = load_mmhal(template).items
    with FakeOpenAIServer(lambda p, n, a: (503, "down")) as server:
        with pytest.raises(JudgeError, match="failed after 3 attempts: HTTP 503"):
            _client(server, max_retries=2).complete("hello")
        assert server.requests == 3
        result = evaluate_mmhal(items, _client(server, max_retries=0), on_judge_error="zero")
    assert result["judge_failed"] == [0, 1, 2] and result["average_score"] == 0.0


def test_connection_refused_and_client_errors(key) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = JudgeSettings(
        base_url=f"http://127.0.0.1:{port}/v1", model="m", api_key_env=KEY_ENV, max_retries=1, backoff_s=0
    )
    with pytest.raises(JudgeError, match="connection error"):
        JudgeClient(closed).complete("hello")
    with (
        FakeOpenAIServer(lambda p, n, a: (401, f"bad key {a}")) as server,
        pytest.raises(JudgeError, match="HTTP 401") as caught,
    ):
        _client(server).complete("hello")
    assert server.requests == 1 and key not in str(caught.value)


def test_cache_hit_on_rerun_and_key_never_stored(template, key, tmp_path) -> None:
    items = load_mmhal(template).items
    cache = tmp_path / "cache" / "judge.json"
    with FakeOpenAIServer(_by_answer) as server:
        first = evaluate_mmhal(items, _client(server, cache_path=str(cache)))
        assert server.requests == 3
        second = evaluate_mmhal(items, _client(server, cache_path=str(cache)))
        assert server.requests == 3
    assert first == second
    assert key not in cache.read_text() and key not in json.dumps(second)
    assert "Bearer ***" in second["per_item"][0]["judge_reply"]
    assert not list(cache.parent.glob("*.tmp"))


def test_missing_key_variable_is_named(monkeypatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(JudgeError, match=KEY_ENV):
        JudgeClient(JudgeSettings(base_url="http://127.0.0.1:1/v1", model="m", api_key_env=KEY_ENV))


def test_concurrency_limit(key) -> None:
    with FakeOpenAIServer(lambda p, n, a: (200, "Rating: 3"), delay_s=0.05) as server:
        replies = _client(server, max_concurrency=2).complete_many([f"prompt {i}" for i in range(6)])
    assert replies == ["Rating: 3"] * 6 and server.max_in_flight <= 2


def test_load_mmhal_errors_and_missing_images(template, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_mmhal(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"question_type": "x", "question": "q", "image_content": []}]))
    with pytest.raises(ValueError, match=r"bad\.json: item 0 is missing key 'gt_answer'"):
        load_mmhal(bad)
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (4, 4)).save(images / "img0_o.jpg")
    Image.new("RGB", (4, 4)).save(images / "img2.png")
    data = load_mmhal(template, images)
    assert data.skipped == [1] and "img1_o.jpg" in missing_image_message(data)
    assert (
        data.items[0].image_path == images / "img0_o.jpg" and data.items[2].image_path == images / "img2.png"
    )
    with pytest.raises(FileNotFoundError, match="no_images"):
        load_mmhal(template, tmp_path / "no_images")
