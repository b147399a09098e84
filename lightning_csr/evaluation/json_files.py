"""Read a benchmark's JSON file with errors that name the file and say what was expected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: str | Path, kind: str, expected: type = dict, hint: str = "") -> Any:
    """The JSON value in `path` (a `kind` file), which must be of type `expected` (dict or list)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{kind} file not found: {path}{f' ({hint})' if hint else ''}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg})") from error
    if not isinstance(data, expected):
        wanted = "object" if expected is dict else expected.__name__
        raise ValueError(f"{path}: expected a JSON {wanted} ({kind}), got {type(data).__name__}")
    return data
