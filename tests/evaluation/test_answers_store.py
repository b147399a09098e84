"""Append-only answer store: resume after a crash, truncated last line, corrupt lines."""

from __future__ import annotations

import pytest

from lightning_csr.evaluation.answers_store import AnswerStore


def test_append_load_and_resume(tmp_path) -> None:
    path = tmp_path / "run" / "answers.jsonl"
    store = AnswerStore(path)
    assert store.load() == {} and store.done_ids() == set()
    store.append(1, {"answer": "A dog."})
    store.append("q-2", {"answer": "Yes"})
    store.append(1, {"answer": "A puppy."})  # a rerun of the same id: the last one wins
    reopened = AnswerStore(path)
    assert reopened.done_ids() == {1, "q-2"}
    assert reopened.load()[1] == {"answer": "A puppy."}


def test_truncated_last_line_is_ignored_and_repaired(tmp_path) -> None:
    path = tmp_path / "answers.jsonl"
    AnswerStore(path).append(1, {"answer": "one"})
    with path.open("a") as handle:
        handle.write('{"id": 2, "record": {"ans')  # killed mid-write
    store = AnswerStore(path)
    assert store.done_ids() == {1}
    store.append(3, {"answer": "three"})
    assert AnswerStore(path).load() == {1: {"answer": "one"}, 3: {"answer": "three"}}


def test_complete_last_line_without_newline_is_kept(tmp_path) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_text('{"id": 1, "record": {"answer": "one"}}')
    store = AnswerStore(path)
    assert store.done_ids() == {1}
    store.append(2, {"answer": "two"})
    assert store.done_ids() == {1, 2}


def test_corrupt_middle_line_names_file_and_line(tmp_path) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_text('{"id": 1, "record": {}}\nnot json\n{"id": 2, "record": {}}\n')
    with pytest.raises(ValueError, match=r"answers\.jsonl:2: corrupt"):
        AnswerStore(path).load()


def test_id_type_is_checked(tmp_path) -> None:
    with pytest.raises(TypeError):
        AnswerStore(tmp_path / "a.jsonl").append(1.5, {})  # type: ignore[arg-type]
