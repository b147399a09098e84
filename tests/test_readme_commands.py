"""Every `lightning-csr` command line in the README and ARCHITECTURE.md names a real command and real files."""

from __future__ import annotations

import re
import shlex

import pytest

from lightning_csr.cli import COMMANDS
from tests.paths import REPO

DOCS = ("README.md", "ARCHITECTURE.md")
FENCED = re.compile(r"```[a-z]*\n(.*?)```", re.S)
INLINE = re.compile(r"`([^`]+)`")
CALL = re.compile(r"lightning-csr (.+)")
REPO_PATHS = re.compile(r"^(configs|callbacks|benchmarks)/\S+\.(yaml|py|sh)$")


def code_texts(text: str) -> list[str]:
    """The fenced blocks and the inline code spans of a Markdown text."""
    return FENCED.findall(text) + INLINE.findall(FENCED.sub("", text))


def command_lines() -> list[tuple[str, str]]:
    """(document, the text after `lightning-csr`) of every call, continuation lines joined."""
    found = []
    for name in DOCS:
        text = (REPO / name).read_text(encoding="utf-8")
        blocks = FENCED.findall(text)
        spans = [span.replace("\n", " ") for span in INLINE.findall(FENCED.sub("", text))]
        lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()] + spans
        for line in lines:
            for match in CALL.finditer(line):
                call = match.group(1).split(" # ")[0].split("&&")[0].strip()
                if not call.startswith(("<", "fit|")):
                    found.append((name, call))
    return found


def test_the_docs_have_command_lines() -> None:
    assert len(command_lines()) >= 15


@pytest.mark.parametrize("document,line", command_lines(), ids=lambda value: value[:60])
def test_each_command_line_names_a_command_and_existing_repository_files(document: str, line: str) -> None:
    words = [word for word in shlex.split(line) if word != "--debug"]
    names = [" ".join(words[:2]), words[0]]
    assert any(name in COMMANDS for name in names), f"{document}: `lightning-csr {line}`: no such command"
    for word in words:
        for part in word.split("="):
            if REPO_PATHS.match(part):
                assert (REPO / part).is_file(), f"{document}: `lightning-csr {line}`: {part} does not exist"


PLACES = (
    "",
    "lightning_csr/",
    "lightning_csr/modules/",
)  # ARCHITECTURE.md names package files by their folder


def test_every_repository_file_the_docs_name_exists() -> None:
    named = {
        (name, path)
        for name in DOCS
        for span in code_texts((REPO / name).read_text(encoding="utf-8"))
        for path in re.findall(r"(?<![\w/.])((?:[\w.-]+/)+[\w.-]+\.(?:yaml|py|sh|md))\b", span)
        if not path.startswith(("runs/", "data/", "exported/", "eval/", "../", "MMHal-Bench/", "AMBER/"))
    }
    assert len(named) > 30
    missing = sorted(
        f"{name}: {path}"
        for name, path in named
        if not any((REPO / place / path).is_file() for place in PLACES)
    )
    assert not missing, "\n".join(missing)
