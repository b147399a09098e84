"""A command's user errors (a bad path, a bad setting, bad data): one line on stderr and exit status 2.

Tracebacks are kept for bugs, and for everything when `lightning-csr --debug ...` sets `DEBUG`.
"""

from __future__ import annotations

import argparse
import re
import sys
from argparse import ArgumentError
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from lightning_csr.errors import UserError

DEBUG = False  # set by `lightning-csr --debug`: re-raise, traceback included
# what any command reports as a user error (commands add their own kinds)
USER_ERRORS: tuple[type[Exception], ...] = (UserError, ArgumentError, FileNotFoundError)
_NOISE = (
    "Does not validate against any of the",
    "Subtypes:",
    "Errors:",
    "Given value",
    "Expected a <class 'NoneType'>",
    "tip:",
)


@contextmanager
def user_errors(command: str, *kinds: type[Exception]) -> Iterator[None]:
    """Turn the exceptions `kinds` (and every `UserError`) raised in the block into one line and exit 2."""
    try:
        yield
    except (UserError, *kinds) as error:
        if DEBUG:
            raise
        print(f"lightning-csr {command}: error: {one_line(str(error))}", file=sys.stderr)
        raise SystemExit(2) from None


@contextmanager
def one_line_argparse_errors() -> Iterator[None]:
    """In the block, argparse usage errors are `UserError`s, which `user_errors` prints as one line."""

    def error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
        raise UserError(f"{message} (`{parser.prog} --help` lists the options)")

    original = argparse.ArgumentParser.error
    argparse.ArgumentParser.error = error  # jsonargparse's parsers define their own
    try:
        yield
    finally:
        argparse.ArgumentParser.error = original


def one_line(message: str) -> str:
    """A (jsonargparse) error message of many lines as one: `key.path: class_path '...': what is wrong`."""
    if "\n" not in message.strip():
        return message.strip()
    keys: list[str] = []
    class_paths: list[str] = []
    problems: list[str] = []
    for line in message.splitlines():
        line = line.strip().removeprefix("- ").strip()
        if line.startswith("Given value: Namespace(class_path=") and not class_paths:
            class_paths.append(line.split("'")[1])
        if not line or line.startswith(_NOISE):
            continue
        if key := re.fullmatch(r'Parser key "([^"]+)":\s*(.*)', line):
            keys.append(key[1])
            line = key[2]
        if given := re.fullmatch(r"Problem with given class_path '([^']+)':?", line):
            class_paths.append(given[1])
            continue
        if line and line not in problems:
            problems.append(line)
    prefix = ".".join(keys)
    if class_paths:
        prefix += f"{': ' if prefix else ''}class_path '{class_paths[-1]}'"
    text = "; ".join(problems) or "invalid value"
    if class_paths and (keys[-1:] == ["backbone"] or ".backbones." in class_paths[-1]):
        text += f"; known backbones: {known_backbones()}"
    return f"{prefix}: {text}" if prefix else text


def known_backbones() -> str:
    from lightning_csr.backbones import BACKBONES

    return ", ".join(f"lightning_csr.backbones.{path.split(':')[1]}" for path in BACKBONES.values())
