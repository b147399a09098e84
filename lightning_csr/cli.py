"""`lightning-csr`: the table of every command, and `main`, which runs the one its arguments name."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple

from lightning_csr.commands import user_errors


class Command(NamedTuple):
    """Where a command's `main(argv)` lives ("module:function") and the first line of its docstring."""

    target: str
    summary: str


COMMANDS: dict[str, Command] = {
    "fit": Command(
        "lightning_csr.commands.lightning:fit", "Train a module from YAML configs (LightningCLI's fit)."
    ),
    "validate": Command(
        "lightning_csr.commands.lightning:validate",
        "Run a config's validation loop once (LightningCLI's validate).",
    ),
    "test": Command(
        "lightning_csr.commands.lightning:test", "Run a config's test loop once (LightningCLI's test)."
    ),
    "export": Command(
        "lightning_csr.commands.export:main",
        "Write a run's policy as a PEFT adapter and a merged HF model directory.",
    ),
    "export-pairs": Command(
        "lightning_csr.commands.export_pairs:main",
        "Write preference pairs as a Hugging Face dataset with the images embedded (TRL's vision layout).",
    ),
    "evaluate": Command(
        "lightning_csr.commands.evaluate:main",
        "Evaluate a model (HF dir, base + adapter, or CSR run dir) on chair, pope, amber, mmhal or shapeworld.",
    ),
    "povid inject": Command(
        "lightning_csr.commands.povid_inject:main",
        "Write POVID pairs from correct answers (JSONL) with a rule-based or LLM injector.",
    ),
    "compare": Command(
        "lightning_csr.shapeworld.commands.compare:main",
        "Train and score every method from one ShapeWorld base; write a table and a chart.",
    ),
    "shapeworld prepare": Command(
        "lightning_csr.shapeworld.commands.prepare:main",
        "Generate ShapeWorld scenes and SFT data, train its base VLM and CLIP.",
    ),
    "shapeworld evaluate": Command(
        "lightning_csr.shapeworld.commands.evaluate:main",
        "Print the ShapeWorld metrics table of a saved VLM or CLIP directory.",
    ),
    "shapeworld rm-pairs": Command(
        "lightning_csr.shapeworld.commands.rm_pairs:main",
        "Write ShapeWorld reward-model pairs and PPO prompts for Fact-RLHF.",
    ),
    "shapeworld rm-accuracy": Command(
        "lightning_csr.shapeworld.commands.rm_accuracy:main",
        "Print a reward model's accuracy on ShapeWorld pairs, by kind (prior, other, recall).",
    ),
    "shapeworld povid-pairs": Command(
        "lightning_csr.shapeworld.commands.povid_pairs:main",
        "Write POVID pairs from ShapeWorld's ground truth with a rule-based or LLM injector.",
    ),
    "shapeworld study": Command(
        "lightning_csr.shapeworld.commands.study:main",
        "Run every method in N independently built worlds; a report with intervals and a verdict per claim.",
    ),
}
HELP = ("-h", "--help")
GROUPS = sorted({name.split()[0] for name in COMMANDS if " " in name})  # `povid`, `shapeworld`


def usage(group: str | None = None) -> str:
    """The commands (of one group, e.g. `shapeworld`), one line each."""
    names = [name for name in COMMANDS if group is None or name.split()[0] == group]
    width = max(len(name) for name in names)
    prefix = " ".join(["lightning-csr", *([group] if group else [])])
    lines = [
        f"usage: {prefix} [--debug] <command> [options]   (`<command> --help` lists its options)",
        "",
        "commands:",
    ]
    return "\n".join(lines + [f"  {name:<{width}}  {COMMANDS[name].summary}" for name in names])


def _error(message: str) -> None:
    print(f"lightning-csr: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def find_command(argv: Sequence[str]) -> str:
    """The table's command that `argv` starts with (a one-line error and exit 2 when there is none)."""
    for words in (2, 1):
        name = " ".join(argv[:words])
        if len(argv) >= words and name in COMMANDS:
            return name
    if argv[0] in GROUPS:
        known = ", ".join(name.split()[1] for name in COMMANDS if name.split()[0] == argv[0])
        given = f"unknown command '{' '.join(argv[:2])}'" if len(argv) > 1 else f"'{argv[0]}' needs a command"
        _error(f"{given}; the {argv[0]} commands: {known}")
    _error(f"unknown command '{argv[0]}' (`lightning-csr --help` lists the commands)")
    raise AssertionError("unreachable")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `lightning-csr` console script."""
    from_command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in argv:  # tracebacks for every error, user errors included
        argv = [arg for arg in argv if arg != "--debug"]
        user_errors.DEBUG = True
        if from_command_line:
            sys.argv[1:] = argv
    if not argv or argv[0] in HELP:
        print(usage())
        return
    if argv[0] in GROUPS and argv[1:2] and argv[1] in HELP:
        print(usage(argv[0]))
        return
    name = find_command(argv)
    from lightning_csr.commands.third_party_notes import quiet_third_party_notes

    quiet_third_party_notes()
    module, function = COMMANDS[name].target.split(":")
    with user_errors.user_errors(name, *user_errors.USER_ERRORS), user_errors.one_line_argparse_errors():
        getattr(importlib.import_module(module), function)(argv[len(name.split()) :])


if __name__ == "__main__":
    main()
