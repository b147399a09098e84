"""The Dockerfiles (no image can be built here): every COPY source exists, the commands are the README's."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from tests.paths import REPO

DOCKERFILES = {"cpu": REPO / "docker/Dockerfile", "cuda": REPO / "docker/Dockerfile.cuda"}


def instructions(path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def exec_form(path, name: str) -> list[str]:
    values = [json.loads(args) for op, args in instructions(path) if op == name]
    assert len(values) == 1, f"{path.name}: expected one {name} in exec (JSON) form"
    return values[0]


def readme_commands() -> list[list[str]]:
    """Each `lightning-csr ...` or `docker ...` command of the README's bash blocks, as argv."""
    readme = (REPO / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.S):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            for part in line.split("#")[0].split("&&"):
                argv = shlex.split(part)
                if argv and argv[0].endswith(("lightning-csr", "docker")):
                    commands.append([argv[0].rsplit("/", 1)[-1], *argv[1:]])
    return commands


def main_job() -> list[list[str]]:
    """The README's first block: the job it tells a newcomer to run."""
    readme = (REPO / "README.md").read_text()
    first = re.search(r"```bash\n(.*?)```", readme, flags=re.S).group(1)
    parts = [shlex.split(p) for p in first.split("&&")]
    return [["lightning-csr", *argv[1:]] for argv in parts if argv and argv[0].endswith("lightning-csr")]


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_every_copy_source_exists(image):
    copies = [args for op, args in instructions(DOCKERFILES[image]) if op == "COPY"]
    assert copies
    for args in copies:
        sources = shlex.split(args)[:-1]
        for source in sources:
            assert (REPO / source).exists(), (
                f"{DOCKERFILES[image].name}: COPY {source}: no such file in the repo"
            )


def test_cpu_image_runs_the_readme_main_job():
    command = exec_form(DOCKERFILES["cpu"], "CMD")
    assert command[:2] == ["sh", "-c"]
    steps = [shlex.split(step) for step in command[2].split("&&")]
    assert steps == main_job() and len(steps) == 2
    assert steps[0][:3] == ["lightning-csr", "shapeworld", "prepare"], "the world is built before fit"


def test_cuda_image_is_the_cli_and_the_readme_docker_lines_match():
    assert exec_form(DOCKERFILES["cuda"], "ENTRYPOINT") == ["lightning-csr"]
    assert exec_form(DOCKERFILES["cuda"], "CMD") == ["--help"]
    base = next(args for op, args in instructions(DOCKERFILES["cuda"]) if op == "FROM")
    assert "cuda" in base and "pytorch" in base
    commands = readme_commands()
    cli = [argv for argv in commands if argv[0] == "lightning-csr"]
    for argv in (a for a in commands if a[0] == "docker"):
        if argv[1] == "build":
            dockerfile = argv[argv.index("-f") + 1]
            assert (REPO / dockerfile).is_file(), f"README: docker build -f {dockerfile}: no such Dockerfile"
        elif argv[1] == "run" and "--entrypoint" not in argv:
            image = next(i for i, a in enumerate(argv) if a.startswith("lightning-csr:"))
            inner = ["lightning-csr", *argv[image + 1 :]]
            assert inner in cli or not argv[image + 1 :], (
                f"README: `{shlex.join(inner)}` is not a README command"
            )
