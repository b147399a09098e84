"""MMHal-Bench with the prompt and rating rule read from an `eval_gpt4.py` (a hand-written one in the same shape)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from lightning_csr.evaluation.benchmarks import BenchmarkOptions, run_benchmark
from lightning_csr.evaluation.mmhal import load_mmhal
from lightning_csr.evaluation.mmhal.released_evaluator import load_released_judge
from tests.evaluation.fake_openai_server import FakeOpenAIServer
from tests.evaluation.test_chair_released import scripted

# Our own words, in the shape of the released file: a module-level `template` with four "{}" slots filled by
# `template.format(...)`, a `for s in range(N)` loop over f'grade: {s}' on the lower-cased reply, and `s >= K`.
FAKE_EVALUATOR = """
import json

raise SystemExit('this file is read, never run')

template = '''Judge this answer about a picture.
Objects: {}
Asked: {}
Model said: {}
Reference: {}
End with "Grade: k" for k from 0 to 4.'''

if __name__ == '__main__':
    records = json.load(open('responses.json'))
    for i, record in enumerate(records):
        image_content = ' | '.join(record['image_content'])
        input_text = template.format(image_content, record['question'], record['model_answer'], record['gt_answer'])
    scores = []
    for response in []:
        scores_found = []
        for s in range(5):
            if f'grade: {s}' in response.lower():
                scores_found.append(s)
        scores.append(scores_found[0] if len(scores_found) == 1 else 0)
    hallucination = [0 if s >= 2 else 1 for s in scores]
"""


def _items(tmp_path: Path) -> Path:
    entries = [
        {"question_type": t, "question": f"Q{i}?", "gt_answer": f"ref {i}", "image_content": ["Dog", "Ball"],
         "image_id": f"img{i}"}
        for i, t in enumerate(("attribute", "counting", "attribute"))
    ]  # fmt: skip
    (tmp_path / "images").mkdir()
    for i in range(3):
        Image.new("RGB", (4, 4)).save(tmp_path / "images" / f"img{i}.jpg")
    (tmp_path / "response_template.json").write_text(json.dumps(entries))
    (tmp_path / "eval_gpt4.py").write_text(FAKE_EVALUATOR)
    return tmp_path


def test_prompt_and_rules_are_read_from_the_file(tmp_path: Path) -> None:
    judge = load_released_judge(_items(tmp_path) / "eval_gpt4.py")
    assert judge.ratings == (0, 1, 2, 3, 4) and judge.prefix == "grade: " and judge.lower
    assert judge.hallucination_below == 2 and judge.separator == " | "
    item = load_mmhal(tmp_path / "response_template.json").items[0]
    prompt = judge.prompt(item, "A brown dog.")
    # the file's argument order: contents, question, the model's answer, then the reference
    assert "Objects: Dog | Ball\nAsked: Q0?\nModel said: A brown dog.\nReference: ref 0\n" in prompt
    assert judge.rating("Fine.\nGRADE: 3") == 3
    assert judge.rating("grade: 1 ... no, grade: 4") is None  # several: the file scores 0
    assert judge.rating("Rating: 3") is None and judge.rating("grade: 9") is None


def test_benchmark_uses_the_file_or_says_it_used_our_wording(tmp_path: Path, monkeypatch) -> None:
    root = _items(tmp_path)
    monkeypatch.setenv("LIGHTNING_CSR_TEST_JUDGE_KEY", "sk-test")
    grades = {"answer 0": "Grade: 4", "answer 1": "Grade: 2", "answer 2": "no grade given"}

    def reply(prompt: str, number: int, auth: str) -> tuple[int, str]:
        return 200, next(text for answer, text in grades.items() if answer in prompt)

    answers = scripted({f"mmhal:{i}": f"answer {i}" for i in range(3)})
    with FakeOpenAIServer(reply) as server:
        options = BenchmarkOptions(
            "mmhal", mmhal_template=str(root / "response_template.json"), images_dir=str(root / "images"),
            judge_base_url=server.base_url, judge_model="judge", judge_key_env="LIGHTNING_CSR_TEST_JUDGE_KEY",
            mmhal_evaluator=str(root / "eval_gpt4.py"),
        )  # fmt: skip
        result = run_benchmark(options, answers)
        ours = run_benchmark(replace(options, mmhal_evaluator=None), answers)
    # grades 4, 2 and none (scored 0): mean 2; the file's rule "s >= 2" leaves only the 0 a hallucination: 1/3
    assert result["metrics"]["mmhal/average_score"] == pytest.approx(2.0)
    assert result["metrics"]["mmhal/hallucination_rate"] == pytest.approx(1 / 3)
    assert any("read from" in note and "eval_gpt4.py" in note for note in result["notes"])
    # our wording asks for "Rating: N": none of these replies parse, and the report says it is our wording
    assert ours["metrics"]["mmhal/average_score"] == 0
    assert any("our own prompt wording" in note for note in ours["notes"])


def test_a_file_of_another_shape_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "eval_gpt4.py"
    path.write_text("prompt = 'hello {}'\n")
    with pytest.raises(ValueError, match=r"eval_gpt4.py: cannot find a module-level string `template"):
        load_released_judge(path)
    path.write_text(FAKE_EVALUATOR.replace("range(5)", "[0, 1]"))
    with pytest.raises(ValueError, match="cannot find the rating rule"):
        load_released_judge(path)
    path.write_text("def broken(:\n")
    with pytest.raises(ValueError, match=r"eval_gpt4.py:1: not valid Python"):
        load_released_judge(path)
